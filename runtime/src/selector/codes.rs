//! A set of gRPC status codes, such as those a retry or an ejection counts.

use crate::Code;

/// A set of status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Codes(u32);

impl Codes {
    pub(crate) fn of(codes: impl IntoIterator<Item = Code>) -> Codes {
        Codes(
            codes
                .into_iter()
                .fold(0, |set, code| set | bit(code as i32)),
        )
    }

    pub(crate) fn contains(self, code: Code) -> bool {
        self.0 & bit(code as i32) != 0
    }

    /// Whether the `grpc-status` value `value` is one of these codes.
    pub(crate) fn contains_header(self, value: &[u8]) -> bool {
        std::str::from_utf8(value)
            .ok()
            .and_then(|text| text.parse::<i32>().ok())
            .is_some_and(|code| self.0 & bit(code) != 0)
    }
}

fn bit(code: i32) -> u32 {
    u32::try_from(code)
        .ok()
        .and_then(|code| 1u32.checked_shl(code))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_statuses_and_header_values() {
        let codes = Codes::of([Code::Unavailable, Code::Internal]);
        assert!(codes.contains(Code::Unavailable) && codes.contains(Code::Internal));
        assert!(!codes.contains(Code::Ok));
        assert!(codes.contains_header(b"14") && codes.contains_header(b"13"));
        assert!(!codes.contains_header(b"0") && !codes.contains_header(b"99"));
        assert!(!codes.contains_header(b"-1"));
    }
}
