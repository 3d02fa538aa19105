#!/usr/bin/env python3
"""gRPC health server for the Switchboard test rig (grpc.health.v1, grpcio's reference
HealthServicer). Run it with the rig venv's python (PyPI grpcio grpcio-health-checking).

Serve:  grpc_health_server.py [ADDR] [--tls DIR [--cert NAME]]   (default 127.0.0.1:50051)
  With --tls: TLS only, presenting DIR/NAME.pem (NAME defaults to "server") and
  requiring a client certificate signed by DIR/ca.pem (mutual TLS, as production.md
  section 6 records it).
  Overall status "" and the service "switchboard.Test" start SERVING.
  SIGUSR1 sets both NOT_SERVING, SIGUSR2 sets both SERVING (each change is printed).
  SIGTERM/SIGINT: enter_graceful_shutdown() (Watch streams see NOT_SERVING), then stop;
  open streams end with UNAVAILABLE.
  Prints "listening on ADDR" once the port is bound and the server runs.

Check:  grpc_health_server.py --check ADDR [SERVICE] [--want STATUS] [--timeout SECONDS]
  Prints the status of SERVICE ("" by default). With --want, repeats the Check every
  50 ms until the status is STATUS, for at most --timeout seconds (default 5); exits 1
  if it never is. Used by `rig.sh grpc-serving|grpc-not-serving`.

Don't rename this file grpc_health.py: that would hide the grpc_health package.
"""

import argparse
import signal
import sys
import threading
import time
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

SERVICES = ("", "switchboard.Test")
DEFAULT_ADDR = "127.0.0.1:50051"


def serve(addr, tls_dir=None, cert="server"):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)

    def set_all(status):
        for name in SERVICES:
            servicer.set(name, status)
        print("status", health_pb2.HealthCheckResponse.ServingStatus.Name(status), flush=True)

    set_all(health_pb2.HealthCheckResponse.SERVING)
    if tls_dir:
        def read(name):
            with open(f"{tls_dir}/{name}", "rb") as f:
                return f.read()
        creds = grpc.ssl_server_credentials(
            [(read(f"{cert}-key.pem"), read(f"{cert}.pem"))],
            root_certificates=read("ca.pem"),
            require_client_auth=True,
        )
        bound = server.add_secure_port(addr, creds)
    else:
        bound = server.add_insecure_port(addr)
    if bound == 0:
        print(f"cannot bind {addr}", file=sys.stderr, flush=True)
        return 1
    server.start()

    stop = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: set_all(health_pb2.HealthCheckResponse.NOT_SERVING))
    signal.signal(signal.SIGUSR2, lambda *_: set_all(health_pb2.HealthCheckResponse.SERVING))
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"listening on {addr}", flush=True)

    while not stop.wait(1):
        pass
    print("shutting down", flush=True)
    servicer.enter_graceful_shutdown()
    server.stop(grace=1).wait()
    return 0


def check(addr, service, want, timeout):
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(addr) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                resp = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1)
                got = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
            except grpc.RpcError as e:
                got = e.code().name  # e.g. UNAVAILABLE, NOT_FOUND
            if want is None or got == want:
                print(got)
                return 0
            if time.monotonic() >= deadline:
                print(f"{got} (wanted {want})", file=sys.stderr)
                return 1
            time.sleep(0.05)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("addr", nargs="?", default=DEFAULT_ADDR)
    p.add_argument("service", nargs="?", default="")
    p.add_argument("--check", action="store_true", help="be a client: print the status")
    p.add_argument("--want", help="with --check: wait until the status is this")
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--tls", metavar="DIR", help="serve TLS with client certificates required")
    p.add_argument("--cert", default="server", help="with --tls: DIR/CERT.pem is presented")
    a = p.parse_args()
    if a.check:
        return check(a.addr, a.service, a.want, a.timeout)
    return serve(a.addr, a.tls, a.cert)


if __name__ == "__main__":
    sys.exit(main())
