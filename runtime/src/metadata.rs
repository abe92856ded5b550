//! Call metadata: the HTTP/2 headers of a call, as tonic models them.

pub use tonic::metadata::{Ascii, Binary, KeyAndValueRef, MetadataKey, MetadataMap, MetadataValue};
