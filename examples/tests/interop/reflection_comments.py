"""Reads a service's proto comments through gRPC reflection with grpcio-reflection and Python's
protobuf, used by examples/tests/reflection_comments.rs.

Asks for the file that defines --symbol and prints one line per commented location of every
file served: `<file> <path, dot-separated> <leading as JSON> <trailing as JSON>`.
"""

import argparse
import json

import grpc
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc


def optional(location, field):
    """The comment in `field` as JSON, `null` when the location has none."""
    return json.dumps(getattr(location, field) if location.HasField(field) else None)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--symbol", required=True)
    args = parser.parse_args()

    with grpc.insecure_channel(args.address) as channel:
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(file_containing_symbol=args.symbol)
        response = next(reflection.ServerReflectionInfo(iter([request]), timeout=10))
        if response.HasField("error_response"):
            raise SystemExit(f"reflection failed: {response.error_response}")
        for raw in response.file_descriptor_response.file_descriptor_proto:
            file = descriptor_pb2.FileDescriptorProto.FromString(raw)
            for location in file.source_code_info.location:
                path = ".".join(str(part) for part in location.path)
                leading = optional(location, "leading_comments")
                trailing = optional(location, "trailing_comments")
                print(file.name, path, leading, trailing)


if __name__ == "__main__":
    main()
