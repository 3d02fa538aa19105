#!/usr/bin/env python3
"""An HTTP backend for the Switchboard test rig whose answers can be switched to 500s.

Serve:  switch_backend.py PORT NAME   (binds 127.0.0.1:PORT)
  Every GET answers 200 with "NAME\n", except while failing: then every path but
  /health answers 500 "NAME failing\n". /health always answers 200, so a gateway's
  health check keeps the server in rotation while its answers fail (an application
  error, not a dead process: what trips a breaker on response codes).
  SIGUSR1 starts failing, SIGUSR2 stops (each change is printed).
  Prints "listening on 127.0.0.1:PORT" once the port is bound.
"""

import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

failing = False


def main():
    port, name = int(sys.argv[1]), sys.argv[2]

    def switch(on):
        def handler(_signum, _frame):
            global failing
            failing = on
            print("failing" if on else "ok", flush=True)
        return handler

    signal.signal(signal.SIGUSR1, switch(True))
    signal.signal(signal.SIGUSR2, switch(False))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            bad = failing and not self.path.startswith("/health")
            body = f"{name} failing\n" if bad else f"{name}\n"
            data = body.encode()
            self.send_response(500 if bad else 200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args):
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            # A client that hangs up (a health check's timeout, a closed keep-alive
            # connection) is routine, not worth a traceback.
            if not isinstance(sys.exc_info()[1], ConnectionError):
                super().handle_error(request, client_address)

    server = Server(("127.0.0.1", port), Handler)
    print(f"listening on 127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
