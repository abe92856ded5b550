//! Real public API definitions through all three front ends: micro-build, protoc and
//! `buf generate` write the same bytes, and the messages are prost-build's own.

mod support;

use std::collections::BTreeMap;

use prost::Message;
use protoc_gen_micro::Options;
use support::{assert_same_tree, buf_generate, corpus_dir, protoc, tool};
use syn::visit_mut::VisitMut;

/// The files a user lists: `googleapis/ROOTS` (services and type-only packages).
fn roots() -> Vec<String> {
    std::fs::read_to_string(corpus_dir().join("googleapis/ROOTS"))
        .unwrap()
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Every `.proto` in the corpus: the roots and what they import.
fn all_files() -> Vec<String> {
    let mut files: Vec<String> = support::read_tree(&corpus_dir().join("googleapis"))
        .into_keys()
        .filter(|name| name.ends_with(".proto"))
        .collect();
    files.sort();
    files
}

#[test]
fn micro_build_protoc_and_buf_write_the_same_bytes() {
    let out = tempfile::tempdir().unwrap();
    let include = corpus_dir().join("googleapis");
    micro_build::Builder::new()
        .include_file("_includes.rs")
        .out_dir(out.path().join("micro-build"))
        .compile(&roots(), &[&include])
        .unwrap();

    if let Some(protoc_bin) = tool("MICRO_TEST_PROTOC", "protoc") {
        let dir = out.path().join("protoc");
        protoc(&protoc_bin, &include, &all_files(), &dir).unwrap();
        assert_same_tree("protoc", &out.path().join("micro-build"), &dir);
    }
    if let Some(buf) = tool("MICRO_TEST_BUF", "buf") {
        let dir = out.path().join("buf");
        buf_generate(&buf, &include, &dir);
        assert_same_tree("buf generate", &out.path().join("micro-build"), &dir);
    }
}

/// Removes `#[doc]` attributes, which differ where micro-rs fences code blocks as text.
struct WithoutDocs;

impl VisitMut for WithoutDocs {
    fn visit_attributes_mut(&mut self, attributes: &mut Vec<syn::Attribute>) {
        attributes.retain(|attribute| !attribute.path().is_ident("doc"));
    }
}

/// The items of a generated file, without doc comments, as token text.
fn items(source: &str) -> Vec<(Option<String>, String)> {
    let mut file = syn::parse_file(source).unwrap();
    WithoutDocs.visit_file_mut(&mut file);
    file.items
        .iter()
        .map(|item| (item_name(item), quote::quote!(#item).to_string()))
        .collect()
}

fn item_name(item: &syn::Item) -> Option<String> {
    match item {
        syn::Item::Const(item) => Some(item.ident.to_string()),
        syn::Item::Static(item) => Some(item.ident.to_string()),
        syn::Item::Struct(item) => Some(item.ident.to_string()),
        syn::Item::Trait(item) => Some(item.ident.to_string()),
        syn::Item::Impl(item) => match &*item.self_ty {
            syn::Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// Whether an item is one the micro service generator adds.
fn is_service_item(name: Option<&str>) -> bool {
    name.is_some_and(|name| {
        [
            "Handler",
            "Server",
            "Client",
            "_ENDPOINT",
            "_SERVICE_NAME",
            "_SERVICE_INFO",
        ]
        .iter()
        .any(|suffix| name.ends_with(suffix))
            || name == "FILE_DESCRIPTOR_SET"
    })
}

#[test]
fn messages_are_what_prost_build_generates() {
    let set = protox::Compiler::new([corpus_dir().join("googleapis")])
        .unwrap()
        .include_imports(true)
        .include_source_info(true)
        .open_files(roots())
        .unwrap()
        .file_descriptor_set();
    // In file-name order, as protoc-gen-micro generates a package's files.
    let mut files = set.file.clone();
    files.sort_by(|a, b| a.name().cmp(b.name()));
    let requests = files
        .iter()
        .map(|file| {
            let module = prost_build::Module::from_protobuf_package_name(file.package());
            (module, file.clone())
        })
        .collect();
    let prost: BTreeMap<String, String> = prost_build::Config::new()
        .prost_path("::micro::codegen::prost")
        .prost_types_path("::micro::codegen::prost_types")
        .generate(requests)
        .unwrap()
        .into_iter()
        .map(|(module, content)| {
            let parts: Vec<&str> = module.parts().map(|p| p.trim_start_matches("r#")).collect();
            (parts.join("."), content)
        })
        .collect();

    let names: Vec<String> = set.file.iter().map(|file| file.name().to_owned()).collect();
    let encoded = set.file.iter().map(Message::encode_to_vec).collect();
    let ours: BTreeMap<String, String> =
        protoc_gen_micro::generate(encoded, &names, &Options::default())
            .unwrap()
            .into_iter()
            .map(|file| (file.name.trim_end_matches(".rs").to_owned(), file.content))
            .collect();
    assert_eq!(
        prost.keys().collect::<Vec<_>>(),
        ours.keys().collect::<Vec<_>>(),
        "the same packages, imports included, well-known types left to prost_types"
    );
    for (package, prost_source) in &prost {
        let ours: Vec<(Option<String>, String)> = items(&ours[package])
            .into_iter()
            .filter(|(name, _)| !is_service_item(name.as_deref()))
            .collect();
        let prost = items(prost_source);
        assert_eq!(ours.len(), prost.len(), "{package}: item count");
        for (ours, prost) in ours.iter().zip(&prost) {
            assert!(
                ours == prost,
                "{package}: {:?} differs from prost-build's",
                prost.0
            );
        }
    }
}
