//! DNS records as go-micro's mDNS registry writes and reads them, built and parsed with
//! hickory-proto.
//!
//! A node of service `svc` is the instance `<nodeId>.svc.micro.`: a PTR from `svc.micro.`, an
//! SRV to its host and port, a TXT with the encoded payload, and an A (or AAAA) record for the
//! host. Each service also has an instance `<svc>._services.micro.` so that services can be
//! listed.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use hickory_proto::op::{Header, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::{A, AAAA, PTR, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordData, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

/// go-micro's mDNS domain.
pub(crate) const DOMAIN: &str = "micro";
/// The pseudo-service under which go-micro lists services.
pub(crate) const SERVICES: &str = "_services";
/// The port and address go-micro gives the `_services` instances.
const SERVICES_PORT: u16 = 9999;

/// `name` as a DNS name under the domain, e.g. `helloworld.micro.`.
pub(crate) fn service_name(service: &str) -> String {
    format!("{service}.{DOMAIN}.")
}

/// `<instance>.<service>.micro.`
pub(crate) fn instance_name(instance: &str, service: &str) -> String {
    format!("{instance}.{}", service_name(service))
}

pub(crate) fn dns_name(text: &str) -> Result<Name, String> {
    Name::from_ascii(text).map_err(|err| format!("`{text}` is not a valid DNS name: {err}"))
}

/// The records announcing one instance: PTR, SRV, TXT and the host's address.
pub(crate) struct Instance {
    pub(crate) service: String,
    pub(crate) instance: String,
    pub(crate) host: String,
    pub(crate) ip: Option<IpAddr>,
    pub(crate) port: u16,
    pub(crate) txt: Vec<String>,
}

impl Instance {
    /// The `_services` entry listing `service`.
    pub(crate) fn services_entry(service: &str) -> Instance {
        Instance {
            service: SERVICES.to_owned(),
            instance: service.to_owned(),
            host: format!("{service}.{SERVICES}.{DOMAIN}."),
            ip: Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            port: SERVICES_PORT,
            // go-micro sends an empty TXT record here; one empty string is the valid form.
            txt: vec![String::new()],
        }
    }

    /// The PTR from the service name (the answer to a browse), then the instance's own records.
    pub(crate) fn records(&self, ttl: u32) -> Result<(Record, Vec<Record>), String> {
        let service = dns_name(&service_name(&self.service))?;
        let instance = dns_name(&instance_name(&self.instance, &self.service))?;
        let host = dns_name(&self.host)?;
        let ptr = Record::from_rdata(service, ttl, RData::PTR(PTR(instance.clone())));
        let mut records = vec![
            Record::from_rdata(
                instance.clone(),
                ttl,
                RData::SRV(SRV::new(0, 0, self.port, host.clone())),
            ),
            Record::from_rdata(instance, ttl, RData::TXT(TXT::new(self.txt.clone()))),
        ];
        match self.ip {
            Some(IpAddr::V4(ip)) => records.push(Record::from_rdata(host, ttl, RData::A(A(ip)))),
            Some(IpAddr::V6(ip)) => {
                records.push(Record::from_rdata(host, ttl, RData::AAAA(AAAA(ip))))
            }
            None => {}
        }
        Ok((ptr, records))
    }
}

/// A response carrying `answers` and `additionals`, as mDNS responders send them.
pub(crate) fn response(id: u16, answers: Vec<Record>, additionals: Vec<Record>) -> Message {
    let mut message = Message::new(id, MessageType::Response, OpCode::Query);
    message.metadata.authoritative = true;
    message.add_answers(answers);
    message.add_additionals(additionals);
    message
}

/// Decodes a packet, keeping what can be read: records with empty data (go-micro's
/// `_services` entries have an empty TXT) are dropped rather than failing the whole message, as
/// a strict decoder would.
pub(crate) fn parse(bytes: &[u8]) -> Option<Message> {
    let mut decoder = BinDecoder::new(bytes);
    let header = Header::read(&mut decoder).ok()?;
    let metadata = header.metadata;
    let mut message = Message::new(metadata.id, metadata.message_type, metadata.op_code);
    message.metadata = metadata;
    for _ in 0..header.counts.queries {
        message.queries.push(Query::read(&mut decoder).ok()?);
    }
    let sections = [
        header.counts.answers,
        header.counts.authorities,
        header.counts.additionals,
    ];
    for (section, count) in sections.into_iter().enumerate() {
        for _ in 0..count {
            let record = Record::read(&mut decoder).ok()?;
            if record.data.is_update() {
                continue;
            }
            match section {
                0 => message.answers.push(record),
                1 => message.authorities.push(record),
                _ => message.additionals.push(record),
            }
        }
    }
    Some(message)
}

/// A query for the instances of `service` (`_services` lists services).
pub(crate) fn browse(service: &str) -> Result<Message, String> {
    let mut message = Message::new(0, MessageType::Query, OpCode::Query);
    message.add_query(Query::query(
        dns_name(&service_name(service))?,
        RecordType::PTR,
    ));
    Ok(message)
}

/// What one instance looked like in the responses seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Seen {
    /// The service it belongs to, lowercase (`helloworld`, or `_services`).
    pub(crate) service: String,
    /// The instance label(s) before the service: a node id, or a service name for `_services`.
    pub(crate) instance: String,
    pub(crate) port: Option<u16>,
    pub(crate) host: Option<String>,
    pub(crate) txt: Option<Vec<String>>,
    pub(crate) ip: Option<IpAddr>,
    /// Seen with TTL 0: a goodbye.
    pub(crate) goodbye: bool,
}

impl Seen {
    /// `host:port` for the node, once both are known.
    pub(crate) fn address(&self) -> Option<String> {
        let (ip, port) = (self.ip?, self.port?);
        Some(std::net::SocketAddr::new(ip, port).to_string())
    }
}

/// Collects instances of the `micro.` domain from response messages; records of other domains
/// (anything else on the network speaking mDNS) are ignored.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    /// By full instance name, lowercase.
    pub(crate) instances: HashMap<String, Seen>,
    /// Host name → address, lowercase.
    addresses: HashMap<String, IpAddr>,
}

impl Collector {
    /// Reads one response message.
    pub(crate) fn read(&mut self, message: &Message) {
        for record in message
            .answers
            .iter()
            .chain(&message.additionals)
            .chain(&message.authorities)
        {
            self.record(record);
        }
        self.resolve_hosts();
    }

    fn record(&mut self, record: &Record) {
        let owner = record.name.to_ascii().to_ascii_lowercase();
        let goodbye = record.ttl == 0;
        match &record.data {
            RData::PTR(PTR(target)) => {
                let target = target.to_ascii().to_ascii_lowercase();
                if let Some(seen) = self.instance(&target, Some(&owner)) {
                    seen.goodbye |= goodbye;
                }
            }
            RData::SRV(srv) => {
                if let Some(seen) = self.instance(&owner, None) {
                    seen.port = Some(srv.port);
                    seen.host = Some(srv.target.to_ascii().to_ascii_lowercase());
                    seen.goodbye |= goodbye;
                }
            }
            RData::TXT(txt) => {
                if let Some(seen) = self.instance(&owner, None) {
                    let strings = txt
                        .txt_data
                        .iter()
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect();
                    seen.txt = Some(strings);
                    seen.goodbye |= goodbye;
                }
            }
            RData::A(A(ip)) => {
                self.addresses.insert(owner, IpAddr::V4(*ip));
            }
            RData::AAAA(AAAA(ip)) => {
                self.addresses.entry(owner).or_insert(IpAddr::V6(*ip));
            }
            _ => {}
        }
    }

    /// The entry for an instance name in our domain; `service_hint` is the PTR's owner, which
    /// says where the service part of the name starts.
    fn instance(&mut self, name: &str, service_hint: Option<&str>) -> Option<&mut Seen> {
        let suffix = format!(".{DOMAIN}.");
        let without_domain = name.strip_suffix(&suffix)?;
        let split = match service_hint.and_then(|owner| owner.strip_suffix(&suffix)) {
            Some(service) => {
                let instance = without_domain.strip_suffix(&format!(".{service}"))?;
                Some((instance.to_owned(), service.to_owned()))
            }
            None if self.instances.contains_key(name) => None,
            None => split_instance(without_domain).map(|(i, s)| (i.to_owned(), s.to_owned())),
        };
        let seen = self.instances.entry(name.to_owned()).or_default();
        if let Some((instance, service)) = split {
            seen.instance = instance;
            seen.service = service;
        }
        Some(seen)
    }

    fn resolve_hosts(&mut self) {
        for seen in self.instances.values_mut() {
            if let Some(ip) = seen.host.as_ref().and_then(|host| self.addresses.get(host)) {
                seen.ip = Some(*ip);
            }
        }
    }
}

/// Splits `<instance>.<service>` without a PTR to say where the service starts: the instance is
/// the first label (node ids and service names in `_services` have no dots), the rest the
/// service.
fn split_instance(name: &str) -> Option<(&str, &str)> {
    name.split_once('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> Instance {
        Instance {
            service: "go.micro.srv.greeter".into(),
            instance: "greeter-1".into(),
            host: "greeter-1.micro.".into(),
            ip: Some("10.0.0.7".parse().unwrap()),
            port: 8080,
            txt: vec!["ab".into(), "cd".into()],
        }
    }

    #[test]
    fn names_follow_go_micro() {
        assert_eq!(service_name("helloworld"), "helloworld.micro.");
        assert_eq!(
            instance_name("helloworld-1", "helloworld"),
            "helloworld-1.helloworld.micro."
        );
        let (ptr, records) = Instance::services_entry("helloworld").records(120).unwrap();
        assert_eq!(ptr.name.to_ascii(), "_services.micro.");
        assert_eq!(records[0].name.to_ascii(), "helloworld._services.micro.");
    }

    #[test]
    fn records_parse_back_into_the_instance() {
        let (ptr, records) = node().records(120).unwrap();
        let message = response(0, vec![ptr], records);
        let bytes = message.to_vec().unwrap();
        let mut collector = Collector::default();
        collector.read(&Message::from_vec(&bytes).unwrap());
        let seen = &collector.instances["greeter-1.go.micro.srv.greeter.micro."];
        assert_eq!(
            (seen.service.as_str(), seen.instance.as_str()),
            ("go.micro.srv.greeter", "greeter-1")
        );
        assert_eq!(seen.address().as_deref(), Some("10.0.0.7:8080"));
        assert_eq!(
            seen.txt.as_deref(),
            Some(&["ab".to_owned(), "cd".to_owned()][..])
        );
        assert!(!seen.goodbye);
    }

    #[test]
    fn an_empty_txt_record_as_go_micro_sends_it_does_not_spoil_the_packet() {
        let (ptr, mut records) = Instance::services_entry("greeter").records(120).unwrap();
        records.retain(|record| record.record_type() != RecordType::TXT);
        let mut bytes = response(0, vec![ptr], records).to_vec().unwrap();
        // Append a TXT record with zero-length data, as go-micro's `_services` entries carry.
        let name = Name::from_ascii("greeter._services.micro.").unwrap();
        let empty_txt = Record::from_rdata(name, 120, RData::TXT(TXT::new(vec!["x".into()])));
        let mut tail = response(0, Vec::new(), vec![empty_txt]).to_vec().unwrap()[12..].to_vec();
        let len = tail.len();
        tail.truncate(len - 2);
        tail[len - 4..len - 2].copy_from_slice(&0u16.to_be_bytes());
        bytes.extend_from_slice(&tail);
        let additionals = u16::from_be_bytes([bytes[10], bytes[11]]) + 1;
        bytes[10..12].copy_from_slice(&additionals.to_be_bytes());
        assert!(
            Message::from_vec(&bytes).is_err(),
            "a strict decoder rejects it"
        );
        let mut collector = Collector::default();
        collector.read(&parse(&bytes).expect("the lenient decoder keeps the rest"));
        assert_eq!(
            collector.instances["greeter._services.micro."].instance,
            "greeter"
        );
    }

    #[test]
    fn ttl_zero_is_a_goodbye_and_other_domains_are_ignored() {
        let (ptr, records) = node().records(0).unwrap();
        let mut collector = Collector::default();
        collector.read(&response(0, vec![ptr], records));
        assert!(collector.instances.values().all(|seen| seen.goodbye));

        let printer = Record::from_rdata(
            Name::from_ascii("_ipp._tcp.local.").unwrap(),
            120,
            RData::PTR(PTR(Name::from_ascii("office._ipp._tcp.local.").unwrap())),
        );
        let mut collector = Collector::default();
        collector.read(&response(0, vec![printer], Vec::new()));
        assert!(collector.instances.is_empty());
    }
}
