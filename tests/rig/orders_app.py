#!/usr/bin/python3
"""The test rig's "orders" service: its deep readiness needs a database session.

Serve:  orders_app.py PORT   (binds 127.0.0.1:PORT; run with Debian's python3, which has
psycopg2 with Patroni)
  GET /ready opens a new session on the Patroni cluster's primary (libpq multi-host,
  target_session_attrs=read-write, as the console's login), runs SELECT 1 and answers
  200 "ready"; without a session (no primary, no free connection slot) it answers 503
  with libpq's reason. Every other path answers 200 "orders". A connection leak that
  takes every slot, or a primary that is gone, fails readiness as it would a real
  service's.
"""

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2

DSN = (
    "host=127.0.0.1,127.0.0.1,127.0.0.1 port=5441,5442,5443 dbname=postgres "
    "user=switchboard password=rigwatch target_session_attrs=read-write connect_timeout=1"
)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *_args):
        pass

    def answer(self, code, text):
        body = (text + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path != "/ready":
            self.answer(200, "orders")
            return
        try:
            conn = psycopg2.connect(DSN)
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT 1")
                    cur.fetchone()
            finally:
                conn.close()
        except psycopg2.Error as e:
            self.answer(503, "not ready: " + " ".join(str(e).split())[:300])
            return
        self.answer(200, "ready")


def main():
    port = int(sys.argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"listening on 127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
