//! Generates the corpus with micro-build, as a user's build script would:
//!
//! - the googleapis files listed in `googleapis/ROOTS` (their imports come along), into
//!   `$OUT_DIR/googleapis`;
//! - the random schemas of the seeds in `MICRO_CORPUS_SEEDS` (`first..end`, default `1..25`),
//!   into `$OUT_DIR/random`. `scripts/random-protos.sh` builds other ranges.

use std::path::{Path, PathBuf};

/// The seeds built when `MICRO_CORPUS_SEEDS` is not set.
const DEFAULT_SEEDS: &str = "1..25";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed=googleapis/ROOTS");
    let roots = std::fs::read_to_string("googleapis/ROOTS")?;
    let roots: Vec<&str> = roots.lines().filter(|line| !line.is_empty()).collect();
    micro_build::Builder::new()
        .include_file("_includes.rs")
        .out_dir(out.join("googleapis"))
        .compile(&roots, &["googleapis"])?;

    println!("cargo:rerun-if-env-changed=MICRO_CORPUS_SEEDS");
    let seeds = std::env::var("MICRO_CORPUS_SEEDS").unwrap_or_else(|_| DEFAULT_SEEDS.into());
    random_schemas(&seeds, &out.join("random"))
}

fn random_schemas(seeds: &str, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let (first, end) = seeds
        .split_once("..")
        .ok_or_else(|| format!("MICRO_CORPUS_SEEDS={seeds}: expected `first..end`"))?;
    let protos = out.join("protos");
    let _ = std::fs::remove_dir_all(&protos);
    let mut files = Vec::new();
    for seed in first.parse::<u64>()?..end.parse::<u64>()? {
        let schema = random_proto::Schema::generate(seed);
        schema.write_to(&protos)?;
        files.extend(schema.paths());
    }
    micro_build::Builder::new()
        .include_file("_includes.rs")
        .out_dir(out)
        .compile(&files, &[protos])
        .map_err(|err| format!("random schemas {seeds}: {err}").into())
}
