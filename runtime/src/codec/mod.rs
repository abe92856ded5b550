//! Message encoding on the wire: gRPC framing and its limits.

mod limit;

pub(crate) use limit::FrameLimit;
