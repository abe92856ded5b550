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
    let out_of_range = || invalid(&"out of range (1970 to 9999)");
    if !has_offset {
        let utc = humantime::parse_rfc3339_weak(text).map_err(|err| invalid(&err))?;
        return writable(utc).ok_or_else(out_of_range);
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
    utc.and_then(writable).ok_or_else(out_of_range)
}

/// `time` if it can be written back: humantime panics on times before 1970 and fails on those
/// after 9999, which an offset can reach (found by fuzzing, FUZZING.md).
fn writable(time: SystemTime) -> Option<SystemTime> {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .is_ok_and(|since| since.as_secs() < END_OF_9999)
        .then_some(time)
}

/// Seconds from the epoch to the end of year 9999, the last time RFC 3339 can write.
const END_OF_9999: u64 = 253_402_300_800;

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (fuzz/corpus/event_json/crash-*): an offset moved a time before 1970
    /// or past 9999, and writing it back panicked (humantime, serde_json).
    #[test]
    fn offsets_cannot_leave_the_writable_range() {
        for text in ["1970-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"] {
            assert!(parse(text).is_err(), "{text}");
        }
        for text in ["1970-01-01T00:00:00-01:00", "9999-12-31T23:59:59+01:00"] {
            let time = parse(text).unwrap();
            let written = humantime::format_rfc3339_nanos(time).to_string();
            assert_eq!(parse(&written).unwrap(), time, "{text}");
        }
    }
}
