"""A grpcio client of the streaming example, used by examples/tests/interop_python.rs.

It generates its own stubs from proto/streaming.proto with grpc_tools, calls each of the four
RPC kinds, checks an error status, health (grpcio-health-checking) and reflection
(grpcio-reflection), and prints one `<check> ok` line per passing check. Any failure raises.
"""

import argparse
import importlib
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_tools import protoc


def generate_stubs(proto_dir, stubs_dir):
    code = protoc.main([
        "grpc_tools.protoc",
        f"-I{proto_dir}",
        f"--python_out={stubs_dir}",
        f"--grpc_python_out={stubs_dir}",
        "streaming.proto",
    ])
    if code != 0:
        raise SystemExit(f"grpc_tools.protoc failed with {code}")
    sys.path.insert(0, stubs_dir)
    return importlib.import_module("streaming_pb2"), importlib.import_module("streaming_pb2_grpc")


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--proto-dir", required=True)
    parser.add_argument("--stubs-dir", required=True)
    args = parser.parse_args()

    pb, pb_grpc = generate_stubs(args.proto_dir, args.stubs_dir)
    with grpc.insecure_channel(args.address) as channel:
        stub = pb_grpc.StreamerStub(channel)

        reply = stub.Ping(pb.PingRequest(text="hello"), timeout=10)
        expect(reply.text == "hello", f"ping answered {reply.text!r}")
        print("unary ok")

        numbers = [r.number for r in stub.Count(pb.CountRequest(to=5), timeout=10)]
        expect(numbers == [1, 2, 3, 4, 5], f"count answered {numbers}")
        print("server-streaming ok")

        total = stub.Sum(iter([pb.Number(value=v) for v in (10, 20, 12)]), timeout=10)
        expect((total.total, total.count) == (42, 3), f"sum answered {total}")
        print("client-streaming ok")

        words = [w.text for w in stub.Shout(iter([pb.Words(text=t) for t in ("a", "b")]), timeout=10)]
        expect(words == ["A", "B"], f"shout answered {words}")
        print("bidi ok")

        try:
            stub.Sum(iter([pb.Number(value=2**63 - 1), pb.Number(value=1)]), timeout=10)
            raise AssertionError("an overflowing sum succeeded")
        except grpc.RpcError as err:
            expect(err.code() == grpc.StatusCode.OUT_OF_RANGE, f"overflow gave {err.code()}")
        print("errors ok")

        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", "streaming.Streamer"):
            status = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=10).status
            expect(status == health_pb2.HealthCheckResponse.SERVING, f"health of {name!r} is {status}")
        print("health ok")

        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        response = next(reflection.ServerReflectionInfo(iter([request]), timeout=10))
        names = sorted(s.name for s in response.list_services_response.service)
        expect("streaming.Streamer" in names, f"reflection listed {names}")
        print("reflection ok")


if __name__ == "__main__":
    main()
