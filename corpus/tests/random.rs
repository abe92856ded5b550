//! The seeded random schemas (the ones `build.rs` compiled into this crate, so they build):
//! the plugin under protoc writes what micro-build writes, and every schema with a clash added
//! is refused with an error naming it, never a panic.

mod support;

use random_proto::Schema;
use support::{assert_same_tree, protoc, tool};

/// The seeds to check: `MICRO_CORPUS_SEEDS` as `build.rs` reads it (default `1..25`).
fn seeds() -> std::ops::Range<u64> {
    let seeds = std::env::var("MICRO_CORPUS_SEEDS").unwrap_or_else(|_| "1..25".into());
    let (first, end) = seeds
        .split_once("..")
        .expect("MICRO_CORPUS_SEEDS is `first..end`");
    first.parse().unwrap()..end.parse().unwrap()
}

#[test]
fn protoc_writes_what_micro_build_writes() {
    let Some(protoc_bin) = tool("MICRO_TEST_PROTOC", "protoc") else {
        return;
    };
    for seed in seeds() {
        let work = tempfile::tempdir().unwrap();
        let schema = Schema::generate(seed);
        let protos = work.path().join("protos");
        schema.write_to(&protos).unwrap();
        micro_build::Builder::new()
            .include_file("_includes.rs")
            .out_dir(work.path().join("micro-build"))
            .compile(&schema.paths(), &[&protos])
            .unwrap_or_else(|err| panic!("seed {seed}: {err}"));
        let dir = work.path().join("protoc");
        protoc(&protoc_bin, &protos, &schema.paths(), &dir)
            .unwrap_or_else(|err| panic!("seed {seed}: protoc failed: {err}"));
        assert_same_tree(
            &format!("seed {seed}"),
            &work.path().join("micro-build"),
            &dir,
        );
    }
}

#[test]
fn a_clash_is_an_error_that_names_it() {
    for seed in seeds() {
        let (schema, clash) = Schema::with_clash(seed);
        let work = tempfile::tempdir().unwrap();
        schema.write_to(work.path()).unwrap();
        let result = std::panic::catch_unwind(|| {
            micro_build::Builder::new()
                .out_dir(work.path().join("out"))
                .compile(&schema.paths(), &[work.path()])
        });
        let err = result
            .unwrap_or_else(|_| panic!("seed {seed}: the generator panicked on {clash:?}"))
            .expect_err(&format!("seed {seed}: {clash:?} was accepted"))
            .to_string();
        let rust = clash.rust_name(seed);
        assert!(
            err.contains(&format!("both become `{rust}`")) && err.contains("rename one of them"),
            "seed {seed}, {clash:?}: {err}"
        );
    }
}
