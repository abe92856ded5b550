//! Service identities: `micro://<namespace>/<service>`, as service certificates carry them.

use std::fmt;

use super::Account;

/// The URI scheme of service identities.
const SCHEME: &str = "micro://";

/// Who a certificate says its holder is: service `service` in `namespace`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The namespace (as `--auth-namespace`).
    pub namespace: String,
    /// The service's name.
    pub service: String,
}

impl Identity {
    /// Service `service` in `namespace`.
    pub fn new(namespace: &str, service: &str) -> Identity {
        Identity {
            namespace: namespace.into(),
            service: service.into(),
        }
    }

    /// `micro://<namespace>/<service>`, as it appears in certificates.
    pub fn uri(&self) -> String {
        format!("{SCHEME}{}/{}", self.namespace, self.service)
    }

    /// The identity a `micro://` URI names.
    pub fn from_uri(uri: &str) -> Option<Identity> {
        let (namespace, service) = uri.strip_prefix(SCHEME)?.split_once('/')?;
        let valid = |part: &str| !part.is_empty() && !part.contains('/');
        (valid(namespace) && valid(service)).then(|| Identity::new(namespace, service))
    }

    /// The identity in a DER certificate's URI subject alternative names, if it has one.
    /// This only reads the certificate: whether to trust it is the TLS handshake's business.
    #[cfg(feature = "auth-tls")]
    pub fn from_certificate_der(der: &[u8]) -> Option<Identity> {
        let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
        let names = certificate.subject_alternative_name().ok()??;
        names
            .value
            .general_names
            .iter()
            .find_map(|name| match name {
                x509_parser::extensions::GeneralName::URI(uri) => Identity::from_uri(uri),
                _ => None,
            })
    }
}

impl Identity {
    /// The account a caller proven by certificate holds: `{id: <service>, type: "service",
    /// issuer: <namespace>, scopes: ["service"], metadata: {"identity": <uri>}}`.
    pub fn account(&self) -> Account {
        Account {
            id: self.service.clone(),
            account_type: "service".into(),
            issuer: self.namespace.clone(),
            metadata: [("identity".to_owned(), self.uri())].into(),
            scopes: vec!["service".into()],
            secret: String::new(),
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_parse_only_micro_uris() {
        let identity = Identity::new("prod", "billing");
        assert_eq!(identity.uri(), "micro://prod/billing");
        assert_eq!(Identity::from_uri(&identity.uri()), Some(identity));
        for bad in [
            "https://prod/billing",
            "micro://prod",
            "micro:///billing",
            "micro://a/b/c",
        ] {
            assert_eq!(Identity::from_uri(bad), None, "{bad}");
        }
        #[cfg(feature = "auth-tls")]
        assert_eq!(Identity::from_certificate_der(b"not a certificate"), None);
    }
}
