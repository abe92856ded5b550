// A Connect-ES client (npm @connectrpc/connect-node) of the streaming example, used by
// examples/tests/interop_connect.rs. It calls through every transport connect-node offers
// (Connect with JSON and binary, gRPC-Web with binary and JSON, gRPC) and prints one
// `<transport> <check> ok` line per passing check; any failure throws.
//
// Usage: node connect_client.mjs http://127.0.0.1:PORT   (with ./gen/streaming_pb.js beside it)

import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { Streamer } from "./gen/streaming_pb.js";

const baseUrl = process.argv[2];
const transports = {
  "connect-json-http1": createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
  "connect-binary-http2": createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }),
  "grpc-web-binary": createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
  "grpc-web-json": createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
  "grpc": createGrpcTransport({ baseUrl }),
};
// Client and bidi streams need HTTP/2 (gRPC-Web has neither).
const fullDuplex = new Set(["connect-binary-http2", "grpc"]);

async function* numbers(...values) {
  for (const value of values) yield { value: BigInt(value) };
}

async function* words(...texts) {
  for (const text of texts) yield { text };
}

for (const [name, transport] of Object.entries(transports)) {
  const client = createClient(Streamer, transport);

  const pong = await client.ping({ text: "hello" });
  assert.equal(pong.text, "hello");
  console.log(`${name} unary ok`);

  const counted = [];
  for await (const reply of client.count({ to: 3 })) counted.push(reply.number);
  assert.deepEqual(counted, [1, 2, 3]);
  console.log(`${name} server-streaming ok`);

  if (!fullDuplex.has(name)) continue;

  const sum = await client.sum(numbers(40, 2));
  assert.equal(sum.total, 42n);
  console.log(`${name} client-streaming ok`);

  const shouted = [];
  for await (const reply of client.shout(words("a", "b"))) shouted.push(reply.text);
  assert.deepEqual(shouted, ["A", "B"]);
  console.log(`${name} bidi ok`);

  await assert.rejects(client.sum(numbers("9223372036854775807", 1)), (err) => {
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.OutOfRange);
    return true;
  });
  console.log(`${name} errors ok`);
}
