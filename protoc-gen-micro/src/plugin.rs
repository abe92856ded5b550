//! The protoc plugin protocol: `CodeGeneratorRequest` in, `CodeGeneratorResponse` out.

use prost::Message;
use prost_types::compiler::code_generator_response::{Feature, File};
use prost_types::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};

use crate::{Error, Options};

/// `CodeGeneratorRequest` decoded only as far as the plugin needs, keeping each `proto_file`'s
/// original bytes (see the `descriptor` module for why).
#[derive(Clone, PartialEq, Message)]
struct RawRequest {
    #[prost(string, repeated, tag = "1")]
    file_to_generate: Vec<String>,
    #[prost(string, optional, tag = "2")]
    parameter: Option<String>,
    #[prost(bytes = "vec", repeated, tag = "15")]
    proto_file: Vec<Vec<u8>>,
}

/// Runs the plugin on an encoded `CodeGeneratorRequest` and returns the encoded response.
///
/// It never fails: a bad request, proto or option is reported in the response's `error` field,
/// which protoc and buf print, as the plugin protocol asks.
pub fn run_plugin(request: &[u8]) -> Vec<u8> {
    let response = match respond(request) {
        Ok(files) => CodeGeneratorResponse {
            file: files,
            ..empty_response()
        },
        Err(err) => CodeGeneratorResponse {
            error: Some(err.to_string()),
            ..empty_response()
        },
    };
    response.encode_to_vec()
}

fn respond(request: &[u8]) -> Result<Vec<File>, Error> {
    // Decoding as the real type first checks the request is well formed as a whole.
    CodeGeneratorRequest::decode(request)
        .map_err(|err| Error::new(format!("malformed CodeGeneratorRequest on stdin: {err}")))?;
    let raw = RawRequest::decode(request)
        .map_err(|err| Error::new(format!("malformed CodeGeneratorRequest on stdin: {err}")))?;
    let options = Options::parse(raw.parameter.as_deref().unwrap_or_default())?;
    let files = crate::generate(raw.proto_file, &raw.file_to_generate, &options)?;
    Ok(files
        .into_iter()
        .map(|file| File {
            name: Some(file.name),
            content: Some(file.content),
            ..Default::default()
        })
        .collect())
}

fn empty_response() -> CodeGeneratorResponse {
    CodeGeneratorResponse {
        error: None,
        supported_features: Some(Feature::Proto3Optional as u64),
        file: Vec::new(),
    }
}
