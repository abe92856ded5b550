//! The Kubernetes manifest in docs/production.md matches the code: its ports, probe paths and
//! environment, given to the helloworld example as written (the registry swapped for an
//! in-process one, the secret's files made by openssl, free ports for 8080 and 8081), serve
//! calls over mTLS to callers with a certificate only, both probes over plain HTTP on the
//! probe port, and SIGTERM ends it with exit code 0.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use micro_test_support::{Pki, free_port};
use serde_json::Value;

/// The YAML documents of the `## Kubernetes` section's manifest.
fn manifest() -> Vec<Value> {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/production.md");
    let text = std::fs::read_to_string(&doc).expect("docs/production.md");
    let section = text
        .split("## Kubernetes")
        .nth(1)
        .expect("a `## Kubernetes` section");
    let yaml = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a yaml block");
    yaml.split("\n---\n")
        .map(|document| serde_norway::from_str(document).expect("valid YAML"))
        .collect()
}

fn kind<'a>(documents: &'a [Value], kind: &str) -> &'a Value {
    documents
        .iter()
        .find(|document| document["kind"] == kind)
        .unwrap_or_else(|| panic!("a {kind}"))
}

fn seconds(duration: &str) -> u64 {
    humantime::parse_duration(duration)
        .expect("a duration")
        .as_secs()
}

#[test]
fn the_kubernetes_manifest_serves_calls_and_probes_as_written() {
    let documents = manifest();
    let pod = &kind(&documents, "Deployment")["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let port = |name: &str| {
        let ports = container["ports"].as_array().unwrap();
        let port = ports.iter().find(|port| port["name"] == name);
        port.unwrap_or_else(|| panic!("a port named {name}"))["containerPort"]
            .as_u64()
            .unwrap()
    };
    let (port_name, container_port) = ("micro", port("micro"));
    let (probe_port_name, probe_port) = ("probes", port("probes"));
    let env: BTreeMap<String, String> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|var| {
            Some((
                var["name"].as_str()?.to_owned(),
                var["value"].as_str()?.to_owned(),
            ))
        })
        .collect();

    // What the manifest says agrees with itself and with the code's defaults.
    let listen = format!(":{container_port}");
    assert_eq!(env["MICRO_SERVER_ADDRESS"], listen);
    let probe_listen = format!(":{probe_port}");
    assert_eq!(env["MICRO_HEALTH_ADDRESS"], probe_listen);
    assert_eq!(env["MICRO_TLS_CLIENT_AUTH"], "required");
    assert!(env["MICRO_SERVER_ADVERTISE"].ends_with(&listen));
    let drain = seconds(&env["MICRO_SERVER_SHUTDOWN_TIMEOUT"]);
    assert_eq!(drain, micro::service::DEFAULT_SHUTDOWN_TIMEOUT.as_secs());
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() > drain);
    for (probe, path) in [
        ("livenessProbe", "/health/live"),
        ("readinessProbe", "/health/ready"),
    ] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], path);
        assert_eq!(get["port"], probe_port_name);
        assert!(get["scheme"].is_null(), "the probe port serves plain HTTP");
    }
    let service = &kind(&documents, "Service")["spec"]["ports"][0];
    assert_eq!(service["targetPort"], port_name);

    // The secret's files, from an operator's CA, where the volume is mounted.
    let mount = container["volumeMounts"][0]["mountPath"].as_str().unwrap();
    let secret = tempfile::tempdir().unwrap();
    let pki = Pki::new(&secret.path().join("pki"), "operator CA");
    let issued = pki.issue("helloworld", &["DNS:helloworld", "IP:127.0.0.1"], 2);
    std::fs::copy(&issued.cert, secret.path().join("tls.crt")).unwrap();
    std::fs::copy(&issued.key, secret.path().join("tls.key")).unwrap();
    std::fs::copy(pki.ca_cert(), secret.path().join("ca.crt")).unwrap();
    let caller = pki.issue("frontend", &["DNS:frontend"], 2);

    let (free, free_probes) = (free_port(), free_port());
    let local = |value: &str| {
        value
            .replace(mount, &secret.path().display().to_string())
            .replace("$(POD_IP)", "127.0.0.1")
            .replace(&listen, &format!(":{free}"))
            .replace(&probe_listen, &format!(":{free_probes}"))
    };
    let mut command = Command::new(env!("CARGO_BIN_EXE_helloworld"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (name, value) in &env {
        // No etcd or collector here: the in-process registry, no export.
        if name.starts_with("MICRO_REGISTRY") || name.starts_with("OTEL_") {
            continue;
        }
        command.env(name, local(value));
    }
    let mut child = command
        .env("MICRO_REGISTRY", "memory")
        .env("MICRO_LOG_LEVEL", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the helloworld example starts");
    let stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
            .join("\n")
    });

    let ca = secret.path().join("ca.crt").display().to_string();
    let until = Instant::now() + Duration::from_secs(20);
    let code = |args: &[&str]| {
        let mut all = vec!["-o", "/dev/null", "-w", "%{http_code}"];
        all.extend_from_slice(args);
        curl(&all)
    };
    for path in ["/health/live", "/health/ready"] {
        // The kubelet's way: plain HTTP to the probe port.
        let url = format!("http://127.0.0.1:{free_probes}{path}");
        while code(&[&url]) != "200" {
            assert!(
                Instant::now() < until,
                "{path} did not answer 200 on the probe port"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // The service port: neither plain HTTP nor TLS without a client certificate gets an answer.
    let ready = format!("127.0.0.1:{free}/health/ready");
    assert_eq!(code(&[&format!("http://{ready}")]), "000");
    assert_eq!(code(&["-k", &format!("https://{ready}")]), "000");
    let (cert, key) = (
        caller.cert.display().to_string(),
        caller.key.display().to_string(),
    );
    let with_cert = ["--cert", &cert, "--key", &key];
    assert_eq!(
        code(&[&with_cert[..], &["-k", &format!("https://{ready}")]].concat()),
        "200"
    );
    let resolve = format!("helloworld:{free}:127.0.0.1");
    let reply = curl(&[
        "--cert",
        &cert,
        "--key",
        &key,
        "--cacert",
        &ca,
        "--resolve",
        &resolve,
        "-H",
        "Content-Type: application/json",
        "-H",
        "Micro-Endpoint: Helloworld.Greeting",
        "-d",
        r#"{"name":"alice"}"#,
        &format!("https://helloworld:{free}"),
    ]);
    assert_eq!(reply, r#"{"message":"Hello alice"}"#);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(killed.is_ok_and(|status| status.success()));
    let status = child.wait().unwrap();
    let logs = logs.join().unwrap();
    assert!(status.success(), "exit {status} on SIGTERM:\n{logs}");
}

/// curl's output (`-s`), trimmed.
fn curl(args: &[&str]) -> String {
    let output = Command::new("curl")
        .arg("-s")
        .args(args)
        .output()
        .expect("curl runs");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}
