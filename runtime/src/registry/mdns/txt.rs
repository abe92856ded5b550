//! go-micro's TXT payload: the node's JSON `{Metadata, Service, Version, Endpoints}`,
//! zlib-compressed, hex-encoded, cut into 255-character strings.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use serde::{Deserialize, Serialize};

use crate::registry::Endpoint;

/// Longest TXT string a DNS record can hold.
const MAX_STRING: usize = 255;
/// Largest decompressed payload accepted, against zip bombs.
const MAX_JSON: u64 = 1 << 20;

/// The TXT payload; Go's default field names, as go-micro's `mdnsTxt` has no JSON tags.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct Txt {
    #[serde(rename = "Metadata", default, deserialize_with = "null_as_default")]
    pub(crate) metadata: BTreeMap<String, String>,
    #[serde(rename = "Service", default)]
    pub(crate) service: String,
    #[serde(rename = "Version", default)]
    pub(crate) version: String,
    #[serde(rename = "Endpoints", default, deserialize_with = "null_as_default")]
    pub(crate) endpoints: Vec<Endpoint>,
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Encodes a payload into TXT strings.
pub(crate) fn encode(txt: &Txt) -> Vec<String> {
    let json = serde_json::to_vec(txt).unwrap_or_default();
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    // Writing to a Vec cannot fail.
    let compressed = encoder
        .write_all(&json)
        .and_then(|()| encoder.finish())
        .unwrap_or_default();
    let hex = hex::encode(compressed);
    hex.as_bytes()
        .chunks(MAX_STRING)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect()
}

/// Decodes TXT strings, joined in order; an error says what is wrong with them.
pub(crate) fn decode(strings: &[String]) -> Result<Txt, String> {
    let joined: String = strings.concat();
    let compressed = hex::decode(joined.trim()).map_err(|err| format!("not hex: {err}"))?;
    let mut json = Vec::new();
    ZlibDecoder::new(compressed.as_slice())
        .take(MAX_JSON)
        .read_to_end(&mut json)
        .map_err(|err| format!("not zlib: {err}"))?;
    serde_json::from_slice(&json).map_err(|err| format!("not go-micro's JSON: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What go-micro's `encode` produces for this payload (Go's encoding/json with compress/zlib
    /// at the default level), computed once and kept as a fixture.
    fn go_micro_style(json: &str) -> Vec<String> {
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(json.as_bytes()).unwrap();
        let hex = hex::encode(encoder.finish().unwrap());
        hex.as_bytes()
            .chunks(255)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn decodes_go_micros_payload() {
        let json = r#"{"Metadata":{"broker":"http","protocol":"mucp","registry":"mdns","server":"mucp","transport":"http"},"Service":"helloworld","Version":"latest","Endpoints":[{"name":"Helloworld.Call","request":{"name":"Request","type":"Request","values":[{"name":"name","type":"string","values":null}]},"response":{"name":"Response","type":"Response","values":[{"name":"msg","type":"string","values":null}]},"metadata":{}}]}"#;
        let txt = decode(&go_micro_style(json)).unwrap();
        assert_eq!(txt.service, "helloworld");
        assert_eq!(txt.version, "latest");
        assert_eq!(txt.metadata["protocol"], "mucp");
        assert_eq!(txt.endpoints[0].name, "Helloworld.Call");
        let null_fields =
            go_micro_style(r#"{"Metadata":null,"Service":"s","Version":"1","Endpoints":null}"#);
        assert_eq!(decode(&null_fields).unwrap().service, "s");
    }

    #[test]
    fn round_trips_and_splits_into_255_character_strings() {
        let txt = Txt {
            metadata: (0..50)
                .map(|n| (format!("key{n}"), format!("value {n} {}", "x".repeat(n))))
                .collect(),
            service: "big".into(),
            version: "1".into(),
            endpoints: Vec::new(),
        };
        let strings = encode(&txt);
        assert!(strings.len() > 1, "a large payload needs several strings");
        assert!(strings.iter().all(|s| s.len() <= 255));
        assert!(strings[..strings.len() - 1].iter().all(|s| s.len() == 255));
        assert_eq!(decode(&strings).unwrap(), txt);
        assert_eq!(
            decode(&go_micro_style(&serde_json::to_string(&txt).unwrap())).unwrap(),
            txt
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode(&["zz".into()]).unwrap_err().starts_with("not hex"));
        assert!(
            decode(&["0102".into()])
                .unwrap_err()
                .starts_with("not zlib")
        );
        let not_json = go_micro_style("[1,2]");
        assert!(
            decode(&not_json)
                .unwrap_err()
                .starts_with("not go-micro's JSON")
        );
    }
}
