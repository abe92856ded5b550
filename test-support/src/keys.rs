//! Keys made by openssl, as operators make them, for auth tests.

use std::path::Path;
use std::process::Command;

use crate::pki::openssl;

/// A fresh RSA key pair written to `dir` by openssl (`auth.key`, `auth.pub`), returned as
/// base64 of the PEMs (public, private): what `--auth-public-key`/`--auth-private-key` take.
pub fn rsa_key_pair(dir: &Path) -> (String, String) {
    let key = dir.join("auth.key");
    let public = dir.join("auth.pub");
    openssl(&["genrsa", "-out", &key.to_string_lossy(), "2048"]);
    openssl(&[
        "rsa",
        "-in",
        &key.to_string_lossy(),
        "-pubout",
        "-out",
        &public.to_string_lossy(),
    ]);
    let base64 = |path: &Path| {
        let output = Command::new("base64")
            .arg("-w0")
            .arg(path)
            .output()
            .expect("base64 runs");
        String::from_utf8(output.stdout).expect("base64 prints ASCII")
    };
    (base64(&public), base64(&key))
}
