//! Fields and oneofs of a declared message: every kind, label and default the syntax allows.

use super::{Kind, MAP_KEYS, SCALARS, Type, World};
use crate::model::{Field, FieldType, Label, Message, Oneof};
use crate::names;

/// Field numbers 19000 to 19999 are reserved by protobuf itself.
const PROTOBUF_RESERVED: std::ops::RangeInclusive<u32> = 19_000..=19_999;
/// The largest field number.
const MAX_NUMBER: u32 = 536_870_911;

/// Hands out increasing field numbers, skipping what is reserved.
struct Numbers {
    next: u32,
    reserved: (u32, u32),
}

impl Numbers {
    fn take(&mut self, rng: &mut fastrand::Rng) -> u32 {
        let gap = if self.next < MAX_NUMBER && rng.u8(..8) == 0 {
            rng.u32(1..2_000)
        } else {
            1
        };
        let mut number = self.next + gap - 1;
        while PROTOBUF_RESERVED.contains(&number)
            || (self.reserved.0..=self.reserved.1).contains(&number)
        {
            number += 1;
        }
        self.next = number + 1;
        number
    }
}

impl World {
    pub(super) fn fill_message(
        &mut self,
        message: &mut Message,
        prefix: &str,
        visible: &[Type],
        proto2: bool,
    ) {
        let full = format!("{prefix}.{}", message.name);
        for nested in &mut message.nested {
            self.fill_message(nested, &full, visible, proto2);
        }
        let low = self.rng.u32(100..200);
        let reserved_name = format!("gone_{low}");
        message.scope.reserve_symbol(&reserved_name);
        let mut numbers = Numbers {
            next: 1,
            reserved: (low, low + 10),
        };
        message.reserved = Some((low, low + 10, reserved_name));
        for _ in 0..self.rng.usize(0..=8) {
            let field = self.field(message, visible, proto2, &mut numbers, false);
            message.fields.push(field);
        }
        for _ in 0..self.rng.usize(0..=2) {
            let oneof = self.oneof(message, visible, &mut numbers);
            message.oneofs.push(oneof);
        }
        if self.rng.u8(..6) == 0 {
            // One field with the largest number there is.
            numbers.next = MAX_NUMBER;
            let field = self.field(message, visible, proto2, &mut numbers, false);
            message.fields.push(field);
        }
    }

    fn field(
        &mut self,
        message: &mut Message,
        visible: &[Type],
        proto2: bool,
        numbers: &mut Numbers,
        in_oneof: bool,
    ) -> Field {
        let ty = self.field_type(visible, !in_oneof);
        let label = match (&ty, in_oneof, proto2, self.rng.u8(..20)) {
            (FieldType::Map(..), ..) | (_, true, ..) => Label::None,
            (_, false, _, 0..=4) => Label::Repeated,
            (_, false, true, 5..=7) => Label::Required,
            (_, false, true, _) => Label::Optional,
            (_, false, false, 5..=7) => Label::Optional,
            (_, false, false, _) => Label::None,
        };
        let default = self.default_value(&ty, label, proto2, visible);
        let accessors = accessors(&ty, label);
        // prost-derive cannot build a map of enums named with a keyword (`get_r#type`).
        let keyword_allowed = !matches!(&ty, FieldType::Map(_, value) if matches!(value.as_ref(), FieldType::Enum(_)));
        let make = move |rng: &mut fastrand::Rng| loop {
            let name = names::field_name(rng);
            if keyword_allowed || !names::is_raw_keyword(&name) {
                break name;
            }
        };
        let spellings = |name: &str| {
            let snake = names::rust_snake(name);
            let mut spellings = vec![format!("json:{}", names::json_key(name))];
            if !in_oneof {
                spellings.push(format!("field:{snake}"));
            }
            spellings.extend(
                accessors
                    .iter()
                    .map(|accessor| format!("method:{}", accessor.replace("{}", &snake))),
            );
            spellings
        };
        let name = loop {
            let name = names::fresh(&mut self.rng, &mut message.scope, make, spellings);
            // A map's entry message (`info` → `InfoEntry`) is a symbol of the message too.
            if !matches!(ty, FieldType::Map(..)) {
                break name;
            }
            let entry = map_entry_name(&name);
            if message.scope.free(&entry, &[]) {
                message.scope.reserve_symbol(&entry);
                break name;
            }
        };
        Field {
            name,
            number: numbers.take(&mut self.rng),
            label,
            ty,
            default,
            comment: self.comment(),
            deprecated: self.rng.u8(..15) == 0,
        }
    }

    fn oneof(&mut self, message: &mut Message, visible: &[Type], numbers: &mut Numbers) -> Oneof {
        let name = names::fresh(
            &mut self.rng,
            &mut message.scope,
            names::field_name,
            |name| {
                vec![
                    format!("field:{}", names::rust_snake(name)),
                    format!("type:{}", names::rust_type(name)),
                ]
            },
        );
        let mut variants = crate::names::Scope::default();
        let fields = (0..self.rng.usize(1..=3))
            .map(|_| {
                let field = self.field(message, visible, false, numbers, true);
                // Members are variants of the oneof's enum: distinct in upper camel case.
                let variant = format!("variant:{}", names::rust_type(&field.name));
                if variants.free(&field.name, std::slice::from_ref(&variant)) {
                    variants.take(&field.name, vec![variant]);
                    Some(field)
                } else {
                    None
                }
            })
            .collect::<Vec<_>>()
            .into_iter()
            .flatten()
            .collect();
        Oneof { name, fields }
    }

    fn field_type(&mut self, visible: &[Type], map_allowed: bool) -> FieldType {
        match self.rng.u8(..20) {
            0..=2 if map_allowed => {
                let key = MAP_KEYS[self.rng.usize(..MAP_KEYS.len())];
                // protoc: an enum in a map must have 0 as its first value.
                let values: Vec<Type> = visible
                    .iter()
                    .filter(|ty| {
                        !matches!(
                            ty.kind,
                            Kind::Enum {
                                zero_first: false,
                                ..
                            }
                        )
                    })
                    .cloned()
                    .collect();
                FieldType::Map(key, Box::new(self.field_type(&values, false)))
            }
            3..=8 => self.reference(visible, true),
            9..=10 => self.reference(visible, false),
            _ => FieldType::Scalar(SCALARS[self.rng.usize(..SCALARS.len())]),
        }
    }

    /// A message (or enum) the file can see; a scalar if there is none.
    fn reference(&mut self, visible: &[Type], message: bool) -> FieldType {
        let candidates: Vec<&Type> = visible
            .iter()
            .filter(|ty| matches!(ty.kind, Kind::Message) == message)
            .collect();
        if candidates.is_empty() {
            return FieldType::Scalar("string");
        }
        let ty = candidates[self.rng.usize(..candidates.len())];
        if message {
            FieldType::Message(ty.full.clone())
        } else {
            FieldType::Enum(ty.full.clone())
        }
    }

    /// A proto2 default for some singular scalars and enums.
    fn default_value(
        &mut self,
        ty: &FieldType,
        label: Label,
        proto2: bool,
        visible: &[Type],
    ) -> Option<String> {
        if !proto2 || !matches!(label, Label::Optional | Label::Required) || self.rng.bool() {
            return None;
        }
        let literal = match ty {
            FieldType::Scalar(scalar) => scalar_default(&mut self.rng, scalar),
            FieldType::Enum(full) => {
                let values = visible
                    .iter()
                    .find(|ty| &ty.full == full)
                    .and_then(|ty| match &ty.kind {
                        Kind::Enum { values, .. } => Some(values),
                        Kind::Message => None,
                    })?;
                values[self.rng.usize(..values.len())].clone()
            }
            _ => return None,
        };
        Some(literal)
    }
}

/// protoc's name for a map field's entry message: the field name in upper camel case (letters
/// after `_` capitalised, `_` dropped) and `Entry`.
fn map_entry_name(field: &str) -> String {
    let mut entry = String::new();
    let mut upper = true;
    for c in field.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                entry.push(c.to_ascii_uppercase());
                upper = false;
            }
            c => entry.push(c),
        }
    }
    entry + "Entry"
}

/// The accessor methods prost writes for a field, `{}` standing for its Rust name.
fn accessors(ty: &FieldType, label: Label) -> Vec<&'static str> {
    match (ty, label) {
        (FieldType::Enum(_), Label::Repeated) => vec!["{}", "push_{}"],
        (FieldType::Enum(_), _) => vec!["{}", "set_{}"],
        // proto2 `optional` and proto3 `optional` scalars have presence, and a getter.
        (FieldType::Scalar(_), Label::Optional) => vec!["{}"],
        _ => Vec::new(),
    }
}

fn scalar_default(rng: &mut fastrand::Rng, scalar: &str) -> String {
    let pick =
        |rng: &mut fastrand::Rng, choices: &[&str]| choices[rng.usize(..choices.len())].to_owned();
    match scalar {
        "double" | "float" => pick(rng, &["1.5", "-0.25", "inf", "-inf", "nan", "1e10", "0"]),
        "int32" | "sint32" | "sfixed32" => pick(rng, &["-2147483648", "2147483647", "-7", "42"]),
        "int64" | "sint64" | "sfixed64" => {
            pick(rng, &["-9223372036854775808", "9223372036854775807", "-1"])
        }
        "uint32" | "fixed32" => pick(rng, &["4294967295", "0", "7"]),
        "uint64" | "fixed64" => pick(rng, &["18446744073709551615", "1"]),
        "bool" => pick(rng, &["true", "false"]),
        "string" => pick(
            rng,
            &[
                "\"plain\"",
                "\"a \\\"quoted\\\" \\n line\"",
                "\"h\\u00e9llo\"",
            ],
        ),
        _ => pick(rng, &["\"\\x00\\xff\\001\"", "\"bytes\""]),
    }
}
