//! `google.api.field_behavior` (extension 1052 of `google.protobuf.FieldOptions`, from
//! google/api/field_behavior.proto), read from the options' wire form so that it works whether
//! or not the descriptors include that file.

use prost_reflect::FieldDescriptor;
use prost_reflect::prost::Message as _;
use prost_reflect::prost::bytes::Buf;
use prost_reflect::prost::encoding::{WireType, decode_key, decode_varint};

/// The field number of the `google.api.field_behavior` extension.
const FIELD_BEHAVIOR: u32 = 1052;

/// `google.api.FieldBehavior` values.
const REQUIRED: u64 = 2;
const OUTPUT_ONLY: u64 = 3;
const INPUT_ONLY: u64 = 4;

/// The field behaviors a schema shows.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Behaviors {
    pub(super) required: bool,
    pub(super) output_only: bool,
    pub(super) input_only: bool,
}

/// The behaviors `field` is annotated with; none when its options cannot be read.
pub(super) fn field_behaviors(field: &FieldDescriptor) -> Behaviors {
    let encoded = field.options().encode_to_vec();
    let mut behaviors = Behaviors::default();
    for value in values(&encoded, FIELD_BEHAVIOR) {
        match value {
            REQUIRED => behaviors.required = true,
            OUTPUT_ONLY => behaviors.output_only = true,
            INPUT_ONLY => behaviors.input_only = true,
            _ => {}
        }
    }
    behaviors
}

/// The varint values of field `number` in the encoded message `bytes` (packed or not);
/// stops at the first malformed part.
fn values(mut bytes: &[u8], number: u32) -> Vec<u64> {
    let mut found = Vec::new();
    while bytes.has_remaining() {
        let Ok((tag, wire_type)) = decode_key(&mut bytes) else {
            break;
        };
        let read = match (wire_type, tag == number) {
            (WireType::Varint, true) => decode_varint(&mut bytes).ok().map(|v| found.push(v)),
            (WireType::LengthDelimited, true) => packed(&mut bytes, &mut found),
            _ => skip(&mut bytes, wire_type),
        };
        if read.is_none() {
            break;
        }
    }
    found
}

/// Reads a packed run of varints into `found`; `None` if it is malformed.
fn packed(bytes: &mut &[u8], found: &mut Vec<u64>) -> Option<()> {
    let length = usize::try_from(decode_varint(bytes).ok()?).ok()?;
    let (mut inner, rest) = bytes.split_at_checked(length)?;
    while inner.has_remaining() {
        found.push(decode_varint(&mut inner).ok()?);
    }
    *bytes = rest;
    Some(())
}

/// Skips a field's value; `None` if it is malformed.
fn skip(bytes: &mut &[u8], wire_type: WireType) -> Option<()> {
    let length = match wire_type {
        WireType::Varint => return decode_varint(bytes).ok().map(drop),
        WireType::SixtyFourBit => 8,
        WireType::ThirtyTwoBit => 4,
        WireType::LengthDelimited => usize::try_from(decode_varint(bytes).ok()?).ok()?,
        WireType::StartGroup | WireType::EndGroup => 0,
    };
    *bytes = bytes.get(length..)?;
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_and_unpacked_values_are_found_among_other_fields() {
        // field 1 varint 7; field 1052 varint 2; field 3 bytes "ab"; field 1052 packed [3, 4].
        let mut bytes = vec![0x08, 0x07];
        bytes.extend([0xe0, 0x41, 0x02]);
        bytes.extend([0x1a, 0x02, b'a', b'b']);
        bytes.extend([0xe2, 0x41, 0x02, 0x03, 0x04]);
        assert_eq!(values(&bytes, FIELD_BEHAVIOR), vec![2, 3, 4]);
        assert_eq!(
            values(&[0xe2, 0x41, 0x09, 0x03], FIELD_BEHAVIOR),
            Vec::<u64>::new()
        );
    }
}
