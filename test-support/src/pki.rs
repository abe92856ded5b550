//! A PKI made by openssl, as an operator's would be: a CA whose key stays with the test, and
//! certificates it signs for servers and clients. Services and backends get only their own
//! certificate and key, and the CA certificate to check peers with.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A CA in a directory: `ca.crt` (what peers trust) and `ca.key` (which only the test holds).
#[derive(Debug)]
pub struct Pki {
    dir: PathBuf,
}

/// A certificate and its key, as PEM files.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM, unencrypted).
    pub key: PathBuf,
}

impl Pki {
    /// A new CA (`CN=<name>`) in `dir`, valid for two days, with an EC P-256 key.
    pub fn new(dir: &Path, name: &str) -> Pki {
        std::fs::create_dir_all(dir).expect("create the PKI's directory");
        let pki = Pki {
            dir: dir.to_owned(),
        };
        let (key, cert) = (pki.path("ca.key"), pki.path("ca.crt"));
        openssl(
            &[
                &["req", "-x509"][..],
                &EC_KEY,
                &["-keyout", &key, "-out", &cert, "-days", "2"],
                &["-subj", &format!("/CN={name}")],
                &["-addext", "basicConstraints=critical,CA:TRUE"],
                &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            ]
            .concat(),
        );
        pki
    }

    /// The CA certificate (PEM), which peers trust.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// A certificate for `name` signed by the CA, valid for `sans` (`DNS:localhost`,
    /// `IP:127.0.0.1`, `URI:spiffe://…`), usable by servers and clients alike, for `days`.
    /// Files are `<name>.crt` and `<name>.key`; issuing the same name again replaces them.
    pub fn issue(&self, name: &str, sans: &[&str], days: u32) -> Issued {
        let file = |ext: &str| self.path(&format!("{name}.{ext}"));
        let (key, csr, ext, cert) = (file("key"), file("csr"), file("ext"), file("crt"));
        openssl(
            &[
                &["req"][..],
                &EC_KEY,
                &[
                    "-keyout",
                    &key,
                    "-out",
                    &csr,
                    "-subj",
                    &format!("/CN={name}"),
                ],
            ]
            .concat(),
        );
        std::fs::write(
            &ext,
            format!(
                "subjectAltName={}\nextendedKeyUsage=serverAuth,clientAuth\n",
                sans.join(",")
            ),
        )
        .expect("write the certificate's extensions");
        // Unique serials (not a shared serial file) so that concurrent issues do not clash.
        let serial = format!("0x{:x}", unique_serial());
        openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &self.path("ca.crt"),
            "-CAkey",
            &self.path("ca.key"),
            "-set_serial",
            &serial,
            "-days",
            &days.to_string(),
            "-extfile",
            &ext,
            "-out",
            &cert,
        ]);
        Issued {
            cert: cert.into(),
            key: key.into(),
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }
}

const EC_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

fn unique_serial() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    (nanos << 16) ^ u128::from(NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Runs openssl with `args`, failing the test with its stderr if it fails.
pub(crate) fn openssl(args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs (scripts/test.sh installs it)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
