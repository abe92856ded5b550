//! The optional include file: every generated package nested in `pub mod`s.

use std::collections::BTreeMap;

use prost_build::Module;

use crate::{GeneratedFile, HEADER};

/// A tree of modules; a node may include a generated file and hold child modules.
#[derive(Default)]
struct Node<'a> {
    file: Option<&'a str>,
    children: BTreeMap<&'a str, Node<'a>>,
}

/// Renders `name`, which `include!`s each file inside modules named after its package.
pub(crate) fn render<'a>(
    name: &str,
    files: impl Iterator<Item = (&'a Module, &'a String)>,
) -> GeneratedFile {
    let mut root = Node::default();
    for (module, file) in files {
        let node = module.parts().fold(&mut root, |node, part| {
            node.children.entry(part).or_default()
        });
        node.file = Some(file);
    }
    let mut content = HEADER.to_owned();
    write_node(&root, 0, &mut content);
    GeneratedFile {
        name: name.to_owned(),
        content,
    }
}

fn write_node(node: &Node<'_>, depth: usize, out: &mut String) {
    let indent = "    ".repeat(depth);
    if let Some(file) = node.file {
        out.push_str(&format!("{indent}include!(\"{file}\");\n"));
    }
    for (name, child) in &node.children {
        out.push_str(&format!("{indent}pub mod {name} {{\n"));
        write_node(child, depth + 1, out);
        out.push_str(&format!("{indent}}}\n"));
    }
}
