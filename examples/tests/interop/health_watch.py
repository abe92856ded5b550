"""grpcio's health client against a micro service: Check for each name, NOT_FOUND for an
unknown one, then a Watch that sees SERVING and, once the service is told to stop (the test
sends SIGTERM when this prints "watching serving"), NOT_SERVING before the stream ends.

Usage: health_watch.py --address HOST:PORT --service NAME [--service NAME ...]
"""

import argparse
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def expect(ok, what):
    if not ok:
        print(f"FAILED: {what}", flush=True)
        sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--service", action="append", default=[])
    args = parser.parse_args()
    with grpc.insecure_channel(args.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ["", *args.service]:
            status = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=10).status
            expect(status == SERVING, f"Check({name!r}) is {status}")
        print("check ok", flush=True)
        try:
            health.Check(health_pb2.HealthCheckRequest(service="nope"), timeout=10)
            expect(False, "Check('nope') succeeded")
        except grpc.RpcError as err:
            expect(err.code() == grpc.StatusCode.NOT_FOUND, f"Check('nope') gave {err.code()}")
        print("unknown ok", flush=True)

        seen = []
        watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=30)
        try:
            for reply in watch:
                seen.append(reply.status)
                if len(seen) == 1:
                    expect(reply.status == SERVING, f"the watch began with {reply.status}")
                    print("watching serving", flush=True)
        except grpc.RpcError as err:
            # The stream ends once the service drains; how it ends is the server's choice.
            print(f"watch ended with {err.code()}", flush=True)
        expect(seen == [SERVING, NOT_SERVING], f"the watch saw {seen}")
        print("watch ok", flush=True)


if __name__ == "__main__":
    main()
