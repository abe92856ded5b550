//! One pair of proto names that prost-build would turn into one Rust name: valid protobuf that
//! cannot compile as Rust, which a generator should refuse by naming both.

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};

use crate::ProtoFile;

/// The kinds of clash, each in a file of its own package, `s<seed>.clash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clash {
    /// `HTTPServer` and `HttpServer`: two messages, one struct.
    Messages,
    /// A oneof `kind` and a nested message `Kind`: one type in the message's module.
    OneofAndNested,
    /// `COLOR_RED` and `RED` in enum `Color` (proto2): one variant.
    EnumValues,
    /// An enum field `kind` (setter `set_kind`) and an optional field `set_kind` (getter).
    Accessors,
    /// Services `FooBar` and `Foo_Bar`: one `FooBarHandler`.
    Services,
    /// `GetFoo` and `Get_Foo`: one handler method.
    Rpcs,
    /// A message `FooClient` beside a service `Foo`, whose client is `FooClient`.
    ServiceAndMessage,
}

const ALL: [Clash; 7] = [
    Clash::Messages,
    Clash::OneofAndNested,
    Clash::EnumValues,
    Clash::Accessors,
    Clash::Services,
    Clash::Rpcs,
    Clash::ServiceAndMessage,
];

impl Clash {
    /// The clash of a seed.
    pub fn pick(seed: u64) -> Clash {
        ALL[(seed % ALL.len() as u64) as usize]
    }

    /// The Rust name both items become, which the generator's error should mention.
    pub fn rust_name(self, seed: u64) -> String {
        let word = word(seed);
        match self {
            Clash::Messages => format!("Http{}", word.to_upper_camel_case()),
            Clash::OneofAndNested => word.to_upper_camel_case(),
            Clash::EnumValues => word.to_upper_camel_case(),
            Clash::Accessors => format!("set_{word}"),
            Clash::Services => format!("{}BarHandler", word.to_upper_camel_case()),
            Clash::Rpcs => format!("get_{word}"),
            Clash::ServiceAndMessage => format!("{}Client", word.to_upper_camel_case()),
        }
    }

    /// The file holding the clash; it imports nothing.
    pub fn file(self, seed: u64) -> ProtoFile {
        let word = word(seed);
        let camel = word.to_upper_camel_case();
        let shouty = word.to_shouty_snake_case();
        let snake = word.to_snake_case();
        let (syntax, body) = match self {
            Clash::Messages => (
                "proto3",
                format!("message HTTP{camel} {{}}\nmessage Http{camel} {{}}\n"),
            ),
            Clash::OneofAndNested => (
                "proto3",
                format!(
                    "message M {{\n  message {camel} {{}}\n  oneof {snake} {{ string a = 1; }}\n}}\n"
                ),
            ),
            Clash::EnumValues => (
                "proto2",
                format!("enum Color {{ COLOR_{shouty} = 0; {shouty} = 1; }}\n"),
            ),
            Clash::Accessors => (
                "proto3",
                format!(
                    "enum E {{ E_A = 0; }}\nmessage M {{ E {snake} = 1; optional string set_{snake} = 2; }}\n"
                ),
            ),
            Clash::Services => (
                "proto3",
                format!(
                    "message M {{}}\nservice {camel}Bar {{ rpc A(M) returns (M); }}\nservice {camel}_Bar {{ rpc A(M) returns (M); }}\n"
                ),
            ),
            Clash::Rpcs => (
                "proto3",
                format!(
                    "message M {{}}\nservice S {{ rpc Get{camel}(M) returns (M); rpc Get_{camel}(M) returns (M); }}\n"
                ),
            ),
            Clash::ServiceAndMessage => (
                "proto3",
                format!(
                    "message {camel}Client {{}}\nservice {camel} {{ rpc A({camel}Client) returns ({camel}Client); }}\n"
                ),
            ),
        };
        ProtoFile {
            path: format!("s{seed}/clash/clash.proto"),
            source: format!("syntax = \"{syntax}\";\n\npackage s{seed}.clash;\n\n{body}"),
            has_service: matches!(
                self,
                Clash::Rpcs | Clash::ServiceAndMessage | Clash::Services
            ),
        }
    }
}

/// A plain word for the clash's names, picked by the seed.
fn word(seed: u64) -> &'static str {
    const WORDS: [&str; 5] = ["order", "item", "page", "token", "state"];
    WORDS[(seed / 7 % WORDS.len() as u64) as usize]
}
