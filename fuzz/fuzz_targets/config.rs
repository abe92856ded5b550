#![no_main]
//! Config files: JSON, YAML and TOML, parsed as the file source parses them
//! (`config::Format::parse`) into the tree every source yields.
//!
//! Input: one byte picking the format (0 JSON, 1 YAML, 2 TOML, by value modulo 3), then the file.
//! Invariants: no panic (deep nesting, aliases, huge numbers included); the tree written as
//! JSON reads back the same.

use libfuzzer_sys::fuzz_target;
use micro::config::Format;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, file)) = data.split_first() else {
        return;
    };
    let format = [Format::Json, Format::Yaml, Format::Toml][usize::from(selector % 3)];
    let Ok(tree) = format.parse(file) else {
        return;
    };
    let json = serde_json::to_vec(&tree).expect("a tree encodes as JSON");
    let again = Format::Json
        .parse(&json)
        .unwrap_or_else(|err| panic!("{} does not parse: {err}", String::from_utf8_lossy(&json)));
    assert_eq!(tree, again, "{format:?}: the tree changed through JSON");
});
