//! W3C trace context (`traceparent`): read from incoming calls and messages, continued or
//! started, and passed on by clients, broker publishes and events.

use std::fmt;

/// The header (metadata key) that carries a [`TraceContext`].
pub const TRACEPARENT: &str = "traceparent";

/// [`TRACEPARENT`] as a header name: looked up without parsing and hashing the text each call.
pub(crate) static TRACEPARENT_HEADER: http::HeaderName = http::HeaderName::from_static(TRACEPARENT);

/// A span's place in a distributed trace, as a W3C `traceparent` header carries it.
///
/// Every call a service serves has one ([`Context::trace`](crate::Context::trace)): a child of
/// the caller's `traceparent` when the call came with a valid one, otherwise the root of a new
/// trace. Calls, publishes and events sent while serving it carry
/// [`traceparent`](Self::traceparent), naming this span as their parent.
///
/// ```
/// use micro::trace::TraceContext;
///
/// let caller = TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
/// let served = caller.child();
/// assert_eq!(served.trace_id(), caller.trace_id());
/// assert_eq!(served.parent_id(), Some(caller.span_id()));
/// assert!(served.traceparent().starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: TraceId,
    span_id: SpanId,
    parent_id: Option<SpanId>,
    flags: u8,
}

/// A trace's 16-byte id; displays as 32 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId(u128);

/// A span's 8-byte id; displays as 16 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId(u64);

/// The `sampled` bit of the trace flags.
const SAMPLED: u8 = 0x01;

impl TraceContext {
    /// The span a `traceparent` header names, or `None` if it breaks the W3C rules: a version
    /// other than two lowercase hex digits (`ff` is invalid), ids that are not lowercase hex of
    /// the right length or are all zeros, bad flags, or the wrong length (exactly 55 characters
    /// for version `00`; later versions may append `-`-separated fields).
    pub fn parse(header: &str) -> Option<TraceContext> {
        let header = header.trim_matches([' ', '\t']).as_bytes();
        let version = hex_u8(header.get(0..2)?)?;
        let valid_length = match version {
            0xff => false,
            0x00 => header.len() == 55,
            _ => header.len() == 55 || (header.len() > 55 && header[55] == b'-'),
        };
        if !valid_length || header[2] != b'-' || header[35] != b'-' || header[52] != b'-' {
            return None;
        }
        let trace_id = u128::from_str_radix(lower_hex(&header[3..35])?, 16).ok()?;
        let span_id = u64::from_str_radix(lower_hex(&header[36..52])?, 16).ok()?;
        let flags = hex_u8(&header[53..55])?;
        if trace_id == 0 || span_id == 0 {
            return None;
        }
        Some(TraceContext {
            trace_id: TraceId(trace_id),
            span_id: SpanId(span_id),
            parent_id: None,
            flags,
        })
    }

    /// The root span of a new trace, with random ids, sampled.
    pub fn start() -> TraceContext {
        TraceContext {
            trace_id: TraceId(fastrand::u128(1..)),
            span_id: SpanId(fastrand::u64(1..)),
            parent_id: None,
            flags: SAMPLED,
        }
    }

    /// A new span of the same trace whose parent is this one.
    pub fn child(&self) -> TraceContext {
        TraceContext {
            trace_id: self.trace_id,
            span_id: SpanId(fastrand::u64(1..)),
            parent_id: Some(self.span_id),
            flags: self.flags,
        }
    }

    /// The span serving a request that came with `header`: its child if the header is valid,
    /// else the root of a new trace.
    pub fn continue_from(header: Option<&str>) -> TraceContext {
        match header.and_then(TraceContext::parse) {
            Some(parent) => parent.child(),
            None => TraceContext::start(),
        }
    }

    /// The trace this span belongs to.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// This span's id.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The span this one continues, if it was not the start of its trace here.
    pub fn parent_id(&self) -> Option<SpanId> {
        self.parent_id
    }

    /// The trace flags (bit 0: sampled).
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// Whether the trace is sampled (recorded).
    pub fn is_sampled(&self) -> bool {
        self.flags & SAMPLED != 0
    }

    /// This span with its sampled flag set to `sampled` (an exporter's sampler decided).
    #[cfg(feature = "otel")]
    pub(crate) fn with_sampled(mut self, sampled: bool) -> TraceContext {
        self.flags = match sampled {
            true => self.flags | SAMPLED,
            false => self.flags & !SAMPLED,
        };
        self
    }

    /// The `traceparent` value naming this span as the parent:
    /// `00-<trace id>-<span id>-<flags>`.
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-{:02x}", self.trace_id, self.span_id, self.flags)
    }
}

#[cfg(feature = "otel")]
impl TraceId {
    /// The id as a number.
    pub(crate) fn get(self) -> u128 {
        self.0
    }
}

#[cfg(feature = "otel")]
impl SpanId {
    /// The id as a number.
    pub(crate) fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// `bytes` as text if they are all lowercase hex digits.
fn lower_hex(bytes: &[u8]) -> Option<&str> {
    bytes
        .iter()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        .then(|| std::str::from_utf8(bytes).ok())
        .flatten()
}

fn hex_u8(bytes: &[u8]) -> Option<u8> {
    u8::from_str_radix(lower_hex(bytes)?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_header_round_trips() {
        let parsed = TraceContext::parse(VALID).unwrap();
        assert_eq!(
            parsed.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(parsed.span_id().to_string(), "00f067aa0ba902b7");
        assert!(parsed.is_sampled());
        assert_eq!(parsed.parent_id(), None);
        assert_eq!(parsed.traceparent(), VALID);
        let unsampled = TraceContext::parse(&VALID.replace("-01", "-00")).unwrap();
        assert!(!unsampled.is_sampled());
    }

    #[test]
    fn invalid_headers_are_rejected() {
        let cases = [
            "",
            "00",
            // version ff, non-hex version, uppercase version
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            // all-zero ids
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            // uppercase hex, non-hex
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            // lengths: short trace id, long span id, trailing data on version 00
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b77-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            // wrong separators
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
            // multi-byte characters where hex digits belong
            "00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01",
        ];
        for header in cases {
            assert_eq!(TraceContext::parse(header), None, "{header:?}");
            let fresh = TraceContext::continue_from(Some(header));
            assert_eq!(fresh.parent_id(), None, "{header:?} starts a new trace");
            assert!(TraceContext::parse(&fresh.traceparent()).is_some());
        }
    }

    #[test]
    fn later_versions_are_read_as_version_00() {
        let future = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes";
        let parsed = TraceContext::parse(future).unwrap();
        assert_eq!(parsed.traceparent(), VALID);
        assert!(TraceContext::parse(&format!("{VALID}x")).is_none());
    }

    #[test]
    fn a_child_keeps_the_trace_and_names_its_parent() {
        let parent = TraceContext::parse(VALID).unwrap();
        let child = TraceContext::continue_from(Some(VALID));
        assert_eq!(child.trace_id(), parent.trace_id());
        assert_eq!(child.parent_id(), Some(parent.span_id()));
        assert_ne!(child.span_id(), parent.span_id());
        assert_eq!(child.flags(), parent.flags());
    }

    #[test]
    fn new_traces_have_valid_distinct_ids() {
        let a = TraceContext::start();
        let b = TraceContext::continue_from(None);
        assert_ne!(a.trace_id(), b.trace_id());
        for trace in [a, b] {
            let header = trace.traceparent();
            assert_eq!(header.len(), 55);
            assert_eq!(TraceContext::parse(&header), Some(trace));
        }
    }
}
