//! RFC 3339 timestamps, as Go's `time.Time` marshals to JSON (with any UTC offset): serde
//! helpers for `#[serde(with = "crate::rfc3339")]`.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Deserializer, Serializer};

pub(crate) fn serialize<S: Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_nanos(*time))
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
    let text = String::deserialize(d)?;
    parse(&text).map_err(serde::de::Error::custom)
}

/// humantime reads UTC (`Z`) only: an offset such as `+01:00` is applied here.
pub(crate) fn parse(text: &str) -> Result<SystemTime, String> {
    let invalid = |err: &dyn std::fmt::Display| format!("invalid timestamp `{text}`: {err}");
    let bytes = text.as_bytes();
    let offset_at = text.len().saturating_sub(6);
    let has_offset =
        text.len() > 6 && matches!(bytes[offset_at], b'+' | b'-') && bytes[offset_at + 3] == b':';
    if !has_offset {
        return humantime::parse_rfc3339_weak(text).map_err(|err| invalid(&err));
    }
    let local = humantime::parse_rfc3339_weak(&format!("{}Z", &text[..offset_at]))
        .map_err(|err| invalid(&err))?;
    let number = |range: std::ops::Range<usize>| {
        text.get(range)
            .and_then(|digits| digits.parse::<u64>().ok())
            .ok_or_else(|| invalid(&"bad UTC offset"))
    };
    let offset = Duration::from_secs(
        number(offset_at + 1..offset_at + 3)? * 3600 + number(offset_at + 4..text.len())? * 60,
    );
    let utc = match bytes[offset_at] {
        b'+' => local.checked_sub(offset),
        _ => local.checked_add(offset),
    };
    utc.ok_or_else(|| invalid(&"out of range"))
}

/// An optional RFC 3339 time (`null` or absent: none).
pub(crate) mod option {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        time: &Option<SystemTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match time {
            Some(time) => super::serialize(time, s),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SystemTime>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|text| super::parse(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}
