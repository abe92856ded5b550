#!/usr/bin/env python3
"""Writes a large, deterministic .proto for the codegen benchmark (#26, scripts/bench.sh codegen).

    benches/codegen/gen_proto.py OUT_DIR [--services 200] [--seed 26]

writes OUT_DIR/bench/v1/services.proto (package bench.v1): N services of 5 RPCs each (unary,
server streaming, client streaming, bidi, and one more of a random kind), each service with its
own status enum, a resource message and a request and a response message per RPC. Fields mix
scalars, optional, repeated, map, enum, oneof, nested messages and well-known types (Timestamp,
Duration, FieldMask, wrappers, Struct, Empty); services, methods, messages and fields carry
comments. The same seed writes the same bytes.
"""

import argparse
import os
import random
import re

NOUNS = [
    "Account", "Address", "Alert", "Asset", "Audit", "Basket", "Batch", "Billing", "Booking",
    "Campaign", "Card", "Catalog", "Channel", "Checkout", "Claim", "Comment", "Contract",
    "Coupon", "Credit", "Customer", "Dashboard", "Delivery", "Device", "Discount", "Document",
    "Event", "Export", "Feature", "Feed", "File", "Fleet", "Forecast", "Gateway", "Grant",
    "Import", "Incident", "Invoice", "Job", "Ledger", "License", "Listing", "Location", "Loyalty",
    "Media", "Member", "Message", "Meter", "Note", "Offer", "Order", "Payment", "Payout",
    "Permit", "Policy", "Price", "Profile", "Project", "Quote", "Rating", "Receipt", "Refund",
    "Report", "Reservation", "Review", "Route", "Schedule", "Search", "Session", "Shipment",
    "Shop", "Sku", "Slot", "Stock", "Subscription", "Survey", "Task", "Tax", "Team", "Ticket",
    "Token", "Transfer", "Trip", "Upload", "Vehicle", "Vendor", "Voucher", "Wallet", "Warehouse",
    "Webhook", "Widget",
]
SCALARS = ["string", "int64", "int32", "uint64", "uint32", "bool", "double", "float", "bytes",
           "sint64", "fixed64", "sfixed32"]
WKT = [("google.protobuf.Timestamp", "_at"), ("google.protobuf.Duration", "_timeout"),
       ("google.protobuf.FieldMask", "_mask"), ("google.protobuf.StringValue", "_text"),
       ("google.protobuf.Int64Value", "_total"), ("google.protobuf.BoolValue", "_flag"),
       ("google.protobuf.Struct", "_attributes")]
WORDS = ["name", "title", "label", "owner", "region", "tier", "code", "amount", "count", "score",
         "weight", "limit", "offset", "revision", "checksum", "payload", "reason", "source",
         "target", "priority", "quota", "version", "locale", "currency", "tag", "kind", "state"]
# (verb, client streams, server streams): the four kinds first, then one drawn at random.
KINDS = [("Get", False, False), ("Watch", False, True), ("Upload", True, False),
         ("Sync", True, True)]
EXTRA = [("Update", False, False), ("Delete", False, False), ("Tail", False, True),
         ("Import", True, False), ("Stream", True, True)]


class Writer:
    def __init__(self, rng):
        self.rng = rng
        self.lines = []

    def line(self, text="", depth=0):
        self.lines.append(("  " * depth + text) if text else "")

    def comment(self, text, depth=0):
        for part in text.split("\n"):
            self.line("// " + part if part else "//", depth)

    def fields(self, noun, status, item, depth, count):
        """Writes `count` fields of mixed kinds; returns nothing."""
        rng = self.rng
        tag = 1
        used = set()

        def name(base):
            candidate = base
            n = 2
            while candidate in used:
                candidate = f"{base}_{n}"
                n += 1
            used.add(candidate)
            return candidate

        for _ in range(count):
            kind = rng.choices(
                ["scalar", "optional", "repeated", "map", "enum", "wkt", "message", "oneof"],
                weights=[30, 6, 10, 6, 6, 12, 8, 4])[0]
            word = rng.choice(WORDS)
            if rng.random() < 0.4:
                self.comment(f"The {noun.lower()}'s {word.replace('_', ' ')}.", depth)
            if kind == "scalar":
                self.line(f"{rng.choice(SCALARS)} {name(word)} = {tag};", depth)
            elif kind == "optional":
                self.line(f"optional {rng.choice(SCALARS[:6])} {name('maybe_' + word)} = {tag};",
                          depth)
            elif kind == "repeated":
                element = rng.choice(SCALARS[:4] + [item])
                self.line(f"repeated {element} {name(word + 's')} = {tag};", depth)
            elif kind == "map":
                value = rng.choice(["string", "int64", "double", item])
                self.line(f"map<string, {value}> {name(word + '_by_key')} = {tag};", depth)
            elif kind == "enum":
                self.line(f"{status} {name(word + '_status')} = {tag};", depth)
            elif kind == "wkt":
                wkt, suffix = rng.choice(WKT)
                self.line(f"{wkt} {name(word + suffix)} = {tag};", depth)
            elif kind == "message":
                self.line(f"{item} {name(word + '_item')} = {tag};", depth)
            else:
                self.line(f"oneof {name(word + '_choice')} {{", depth)
                self.line(f"string {name(word + '_text')} = {tag};", depth + 1)
                tag += 1
                self.line(f"int64 {name(word + '_number')} = {tag};", depth + 1)
                tag += 1
                self.line(f"{item} {name(word + '_detail')} = {tag};", depth + 1)
                self.line("}", depth)
            tag += 1


def screaming(camel):
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", camel).upper()


def service(w, index):
    rng = w.rng
    noun = f"{NOUNS[index % len(NOUNS)]}{index:03d}"
    status = f"{noun}Status"
    item = noun
    # The service's enum and resource message, with a nested message and enum inside.
    w.comment(f"The lifecycle of a {noun}.")
    w.line(f"enum {status} {{")
    for n, value in enumerate(["UNSPECIFIED", "PENDING", "ACTIVE", "SUSPENDED", "DELETED"]):
        w.line(f"{screaming(status)}_{value} = {n};", 1)
    w.line("}")
    w.line()
    w.comment(f"One {noun}, as stored.\nReturned by every RPC of {noun}Service.")
    w.line(f"message {item} {{")
    w.line("string id = 1;", 1)
    w.line("google.protobuf.Timestamp created_at = 2;", 1)
    w.line(f"{status} status = 3;", 1)
    w.line("map<string, string> labels = 4;", 1)
    w.comment("Where the resource came from.", 1)
    w.line("message Origin {", 1)
    w.line("enum Channel { CHANNEL_UNSPECIFIED = 0; CHANNEL_WEB = 1; CHANNEL_API = 2; }", 2)
    w.line("Channel channel = 1;", 2)
    w.line("string actor = 2;", 2)
    w.line("repeated string trail = 3;", 2)
    w.line("}", 1)
    w.line("Origin origin = 5;", 1)
    w.line("oneof owner {", 1)
    w.line("string user_id = 6;", 2)
    w.line("string team_id = 7;", 2)
    w.line("}", 1)
    w.line("repeated Origin history = 8;", 1)
    w.line("google.protobuf.Duration ttl = 9;", 1)
    w.line("bytes blob = 10;", 1)
    w.line("double score = 11;", 1)
    w.line("}")
    w.line()
    kinds = KINDS + [rng.choice(EXTRA)]
    rpcs = []
    for verb, client_streams, server_streams in kinds:
        method = f"{verb}{noun}"
        request, response = f"{method}Request", f"{method}Response"
        for message, role in ((request, "request"), (response, "response")):
            w.comment(f"The {role} of {noun}Service.{method}.")
            w.line(f"message {message} {{")
            w.fields(noun, status, item, 1, rng.randint(3, 9))
            w.line("}")
            w.line()
        rpcs.append((method, request, response, client_streams, server_streams))
    w.comment(f"Manages {noun}s: reads, watches, bulk uploads and two-way sync.\n"
              f"Service {index} of the benchmark.")
    w.line(f"service {noun}Service {{")
    for method, request, response, client_streams, server_streams in rpcs:
        w.comment(f"{method}: {'a stream of' if client_streams else 'one'} request(s), "
                  f"{'a stream of' if server_streams else 'one'} response(s).", 1)
        if rng.random() < 0.15 and not client_streams and not server_streams:
            w.line(f"rpc {method}({request}) returns (google.protobuf.Empty);", 1)
        else:
            cs = "stream " if client_streams else ""
            ss = "stream " if server_streams else ""
            w.line(f"rpc {method}({cs}{request}) returns ({ss}{response});", 1)
    w.line("}")
    w.line()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--seed", type=int, default=26)
    args = parser.parse_args()
    w = Writer(random.Random(args.seed))
    w.line('syntax = "proto3";')
    w.line()
    w.comment(f"{args.services} services generated by benches/codegen/gen_proto.py "
              f"(seed {args.seed}) for the codegen benchmark.")
    w.line("package bench.v1;")
    w.line()
    for wkt in ["duration", "empty", "field_mask", "struct", "timestamp", "wrappers"]:
        w.line(f'import "google/protobuf/{wkt}.proto";')
    w.line()
    for index in range(args.services):
        service(w, index)
    path = os.path.join(args.out_dir, "bench", "v1", "services.proto")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        out.write("\n".join(w.lines).rstrip("\n") + "\n")
    print(path)


if __name__ == "__main__":
    main()
