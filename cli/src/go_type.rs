//! The Go type names go-micro writes in the registry's endpoint shapes (`string`, `int64`,
//! `[]Item`, `*Options`, `map[string]string`), read as the JSON `encoding/json` makes of them.
//! MCP's loose schemas and the CLI's service commands both type fields by them.

/// What JSON a Go type name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GoType<'a> {
    String,
    /// `[]byte`: a base64 string.
    Bytes,
    Bool,
    Float,
    /// An integer of 32 bits or less.
    Int {
        unsigned: bool,
    },
    /// `int64`/`uint64`: encoding/json writes numbers, protojson strings.
    Int64 {
        unsigned: bool,
    },
    /// `map[K]V`: an object.
    Map,
    /// `[]T`: a list of the item type `T`.
    List(&'a str),
    /// A struct (its fields are the shape's values) or a type the registry says nothing of.
    Other,
}

/// The JSON `kind` stands for; a pointer (`*T`) is its `T`.
pub(crate) fn go_type(kind: &str) -> GoType<'_> {
    let kind = kind.trim_start_matches('*');
    if kind == "[]byte" {
        return GoType::Bytes;
    }
    if let Some(item) = kind.strip_prefix("[]") {
        return GoType::List(item);
    }
    match kind {
        "string" => GoType::String,
        "bool" => GoType::Bool,
        "float32" | "float64" => GoType::Float,
        "int" | "int8" | "int16" | "int32" => GoType::Int { unsigned: false },
        "uint" | "uint8" | "uint16" | "uint32" => GoType::Int { unsigned: true },
        "int64" => GoType::Int64 { unsigned: false },
        "uint64" => GoType::Int64 { unsigned: true },
        _ if kind.starts_with("map[") => GoType::Map,
        _ => GoType::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_type_names_read_as_their_json() {
        assert_eq!(go_type("*string"), GoType::String);
        assert_eq!(go_type("[]byte"), GoType::Bytes);
        assert_eq!(go_type("[]*Item"), GoType::List("*Item"));
        assert_eq!(go_type("uint16"), GoType::Int { unsigned: true });
        assert_eq!(go_type("int64"), GoType::Int64 { unsigned: false });
        assert_eq!(go_type("map[string]string"), GoType::Map);
        assert_eq!(go_type("Options"), GoType::Other);
    }
}
