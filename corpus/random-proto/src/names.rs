//! Names: word pools with Rust keywords and odd cases, and scopes that keep every generated
//! name distinct both in protobuf and after prost-build turns it into Rust.

use std::collections::HashSet;

use heck::{ToLowerCamelCase, ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};

/// Words names are made of: plain ones, Rust keywords (strict, reserved and the ones that cannot
/// be raw), and names the generated code uses itself.
const WORDS: &[&str] = &[
    "order", "item", "user", "account", "price", "time", "event", "record", "entry", "node",
    "edge", "page", "token", "state", "status", "result", "error", "value", "data", "config",
    "option", "box", "vec", "string", "self", "super", "crate", "type", "match", "ref", "async",
    "await", "fn", "impl", "trait", "struct", "enum", "mod", "move", "use", "where", "loop", "dyn",
    "gen", "try", "yield", "macro", "in", "as", "if", "else", "for", "while", "return", "static",
    "const", "let", "mut", "pub", "unsafe", "extern", "final", "override", "priv", "virtual",
    "abstract", "become", "do", "typeof", "unsized", "http", "url", "id", "uuid", "api", "h", "s",
    "call", "context", "stream", "sender", "client", "server", "handler", "new", "clone",
    "default", "message", "encode", "decode", "future", "send", "sync", "info",
];

/// Lowercase package parts; `self` and `type` become `self_` and `r#type` in Rust.
const PACKAGE_PARTS: &[&str] = &[
    "orders",
    "billing",
    "common",
    "core",
    "v1",
    "v2",
    "v1beta1",
    "type",
    "async",
    "self",
    "match",
    "api",
    "shop",
    "inventory",
];

/// How a name made of words is spelled.
#[derive(Clone, Copy)]
pub(crate) enum Case {
    /// `OrderItem`
    UpperCamel,
    /// `HTTPOrder`: one word in capitals.
    Acronym,
    /// `order_item`
    Snake,
    /// `orderItem`
    LowerCamel,
}

pub(crate) fn word(rng: &mut fastrand::Rng) -> &'static str {
    WORDS[rng.usize(..WORDS.len())]
}

pub(crate) fn package_part(rng: &mut fastrand::Rng) -> &'static str {
    PACKAGE_PARTS[rng.usize(..PACKAGE_PARTS.len())]
}

/// One to three words spelled in `case`.
pub(crate) fn spelled(rng: &mut fastrand::Rng, case: Case) -> String {
    let words: Vec<&str> = (0..rng.usize(1..=3)).map(|_| word(rng)).collect();
    let joined = words.join("_");
    match case {
        Case::UpperCamel => joined.to_upper_camel_case(),
        Case::Snake => joined,
        Case::LowerCamel => joined.to_lower_camel_case(),
        Case::Acronym => {
            let first = words[0].to_uppercase();
            let rest = words[1..].join("_").to_upper_camel_case();
            format!("{first}{rest}")
        }
    }
}

/// A type name: mostly upper camel, sometimes an acronym, snake or lower camel.
pub(crate) fn type_name(rng: &mut fastrand::Rng) -> String {
    let case = match rng.u8(..10) {
        0 => Case::Acronym,
        1 => Case::Snake,
        2 => Case::LowerCamel,
        _ => Case::UpperCamel,
    };
    spelled(rng, case)
}

/// A field name: mostly snake case, sometimes lower camel.
pub(crate) fn field_name(rng: &mut fastrand::Rng) -> String {
    let case = if rng.u8(..5) == 0 {
        Case::LowerCamel
    } else {
        Case::Snake
    };
    spelled(rng, case)
}

/// A shouty word for enum values: `PENDING`, `SELF`.
pub(crate) fn shouty(rng: &mut fastrand::Rng) -> String {
    spelled(rng, Case::Snake).to_shouty_snake_case()
}

/// Whether prost-build writes the snake-case form of `name` as a raw identifier (`r#type`).
pub(crate) fn is_raw_keyword(name: &str) -> bool {
    const RAW: &[&str] = &[
        "as", "break", "const", "continue", "else", "enum", "false", "fn", "for", "if", "impl",
        "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static",
        "struct", "trait", "true", "type", "unsafe", "use", "where", "while", "dyn", "abstract",
        "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized",
        "virtual", "yield", "async", "await", "try", "gen",
    ];
    RAW.contains(&name.to_snake_case().as_str())
}

/// prost-build's Rust spelling of a name (keywords aside, which only ever add a prefix or
/// suffix and so cannot make two names equal).
pub(crate) fn rust_type(name: &str) -> String {
    name.to_upper_camel_case()
}

pub(crate) fn rust_snake(name: &str) -> String {
    name.to_snake_case()
}

/// protoc's JSON name, compared ignoring case.
pub(crate) fn json_key(name: &str) -> String {
    name.to_lower_camel_case().to_lowercase()
}

/// Names taken in one scope, in each spelling that must stay distinct.
#[derive(Default, Clone)]
pub(crate) struct Scope {
    /// Protobuf symbols of the scope (messages, enums, enum values, fields, oneofs, services).
    proto: HashSet<String>,
    /// Any other spelling that must be distinct: `type:HttpServer`, `mod:http_server`, ...
    rust: HashSet<String>,
}

impl Scope {
    /// Whether `name` and its `spellings` are all free.
    pub(crate) fn free(&self, name: &str, spellings: &[String]) -> bool {
        !self.proto.contains(name) && spellings.iter().all(|s| !self.rust.contains(s))
    }

    pub(crate) fn take(&mut self, name: &str, spellings: Vec<String>) {
        self.proto.insert(name.to_owned());
        self.rust.extend(spellings);
    }

    /// Takes a Rust spelling only (a child package's module, say).
    pub(crate) fn reserve(&mut self, spelling: String) {
        self.rust.insert(spelling);
    }

    /// Takes a proto symbol only.
    pub(crate) fn reserve_symbol(&mut self, name: &str) {
        self.proto.insert(name.to_owned());
    }
}

/// Draws candidates from `make` until one is free in `scope` with its `spellings`, and takes
/// it. After many misses a numbered variant of the last candidate is used.
pub(crate) fn fresh(
    rng: &mut fastrand::Rng,
    scope: &mut Scope,
    make: impl Fn(&mut fastrand::Rng) -> String,
    spellings: impl Fn(&str) -> Vec<String>,
) -> String {
    let mut candidate = make(rng);
    for attempt in 0..200 {
        if attempt >= 50 {
            candidate = format!("{}{attempt}", make(rng));
        }
        let taken = spellings(&candidate);
        if scope.free(&candidate, &taken) {
            scope.take(&candidate, taken);
            return candidate;
        }
        candidate = make(rng);
    }
    unreachable!("200 candidates never all clash: numbered ones are unique")
}
