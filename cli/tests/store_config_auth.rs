//! `micro store`, `micro config` and `micro auth` against the real backends services use: the
//! file store and PostgreSQL, etcd with a service's config watch, and JWT with a service that
//! loads the rules file the CLI wrote. Human output is compared exactly, `-o json` parsed.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use examples::helloworld::HelloworldServer;
use micro::auth::{MemoryRules, Rules};
use micro::store::{self, ErrorKind, ReadOptions, Record, Store};
use micro_test_support::{EtcdServer, PostgresServer};
use serde_json::{Value, json};
use support::{Greeter, MICRO, failed, ok, stderr};

/// Runs `micro <args>` without any `MICRO_*` store, config or auth variable of ours.
async fn micro(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(MICRO);
        for (name, _) in std::env::vars() {
            let ours = ["MICRO_STORE", "MICRO_CONFIG", "MICRO_AUTH"];
            if ours.iter().any(|prefix| name.starts_with(prefix)) {
                command.env_remove(name);
            }
        }
        support::run(command.args(&args), None)
    })
    .await
    .unwrap()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"))
}

/// What every store backend must do through the CLI: `cli` runs `micro store <args> <backend
/// options>`, `open` opens the same store in this process, `label` is how messages name it.
async fn store_round_trip<F>(backend: &[&str], open: F, label: &str)
where
    F: Fn() -> std::sync::Arc<dyn Store>,
{
    let cli = |args: &[&str]| {
        let mut all = vec!["store"];
        all.extend(args);
        all.extend(backend);
        let all: Vec<String> = all.iter().map(|a| a.to_string()).collect();
        async move { micro(&all.iter().map(String::as_str).collect::<Vec<_>>()).await }
    };
    assert_eq!(
        ok(&cli(&["write", "user/1", "ada", "-m", "team=math"]).await),
        format!("wrote user/1 to the {label}\n")
    );
    assert_eq!(
        ok(&cli(&["write", "user/2", "grace"]).await),
        format!("wrote user/2 to the {label}\n")
    );
    assert_eq!(ok(&cli(&["read", "user/1"]).await), "ada\n");
    assert_eq!(
        ok(&cli(&["read", "user/", "--prefix"]).await),
        "KEY     VALUE  EXPIRES IN  METADATA\n\
         user/1  ada    -           team=math\n\
         user/2  grace  -\n"
    );
    assert_eq!(
        json(&ok(&cli(&["read", "/2", "--suffix", "-o", "json"]).await)),
        json!([{"key": "user/2", "value": "grace", "encoding": "utf-8", "metadata": {},
                "expiry": null}])
    );
    assert_eq!(ok(&cli(&["list"]).await), "user/1\nuser/2\n");
    assert_eq!(
        ok(&cli(&["list", "--prefix", "user/", "--limit", "1"]).await),
        "user/1\n"
    );
    assert_eq!(
        json(&ok(&cli(&["list", "-o", "json"]).await)),
        json!(["user/1", "user/2"])
    );

    // What the CLI wrote, a service's client reads; and the other way round.
    {
        let store = open();
        let read = store.read("user/1", ReadOptions::default()).await.unwrap();
        assert_eq!(read[0].value.as_ref(), b"ada");
        assert_eq!(read[0].metadata["team"], json!("math"));
        let binary = Record::new("blob", vec![0xff_u8, 0x00, 0x01]).metadata("n", 7);
        store.write(&binary, Default::default()).await.unwrap();
        store
            .write(
                &Record::new("service/note", "from a service"),
                Default::default(),
            )
            .await
            .unwrap();
    }
    assert_eq!(
        ok(&cli(&["read", "service/note"]).await),
        "from a service\n"
    );
    let blob = cli(&["read", "blob"]).await;
    assert_eq!(ok(&blob), "/wAB\n");
    assert_eq!(
        stderr(&blob),
        "note: the value of blob is not UTF-8; printed as base64\n"
    );
    assert_eq!(
        json(&ok(&cli(&["read", "blob", "-o", "json"]).await)),
        json!([{"key": "blob", "value": "/wAB", "encoding": "base64", "metadata": {"n": 7},
                "expiry": null}])
    );

    // TTL: reported while the record lives, honoured after.
    let written = cli(&["write", "session", "s1", "--ttl", "2s", "-o", "json"]).await;
    let scope = json!({"key": "session", "database": "micro", "table": "micro", "ttl": 2});
    assert_eq!(json(&ok(&written)), scope);
    let read = json(&ok(&cli(&["read", "session", "-o", "json"]).await));
    let left = read[0]["expiry"].as_u64().unwrap();
    assert!(left <= 2, "{read}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let expired = failed(&cli(&["read", "session"]).await);
    assert!(expired.contains("not found"), "{expired}");
    {
        let store = open();
        let gone = store.read("session", ReadOptions::default()).await;
        assert_eq!(gone.unwrap_err().kind(), ErrorKind::NotFound);
    }

    assert_eq!(
        ok(&cli(&["delete", "user/1"]).await),
        format!("deleted user/1 from the {label}\n")
    );
    {
        let store = open();
        let gone = store.read("user/1", ReadOptions::default()).await;
        assert_eq!(gone.unwrap_err().kind(), ErrorKind::NotFound);
    }
    let missing = failed(&cli(&["read", "user/1"]).await);
    assert_eq!(
        missing,
        format!(
            "error: not found: no record \"user/1\" in micro/micro\nasked the {label}; see its \
             keys with `micro store list`, and note that a service's records are in the \
             database named after it (--store-database NAME)\n"
        )
    );
    // Another database is another scope.
    let other = cli(&["list", "--store-database", "billing"]).await;
    assert_eq!(ok(&other), "");
}

#[tokio::test]
async fn store_commands_use_the_file_store_services_use() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap().to_owned();
    let label = format!("file store at {path} (micro/micro)");
    let open = || store::build("file", std::slice::from_ref(&path)).unwrap();
    store_round_trip(&["--store-address", &path], open, &label).await;

    // A service holding the database open keeps the CLI out, and the error says why.
    let held = open();
    held.read("user/2", ReadOptions::default()).await.unwrap();
    let locked = failed(&micro(&["store", "read", "user/2", "--store-address", &path]).await);
    assert!(
        locked.contains(&format!(
            "asked the {label}; a running service may hold its database open"
        )),
        "{locked}"
    );
}

#[tokio::test]
async fn store_commands_use_postgres() {
    let Some(mut postgres) = PostgresServer::start() else {
        return;
    };
    let url = postgres.url();
    let label = format!("postgres store at {url} (micro/micro)");
    let open = || store::build("postgres", std::slice::from_ref(&url)).unwrap();
    let backend = ["--store", "postgres", "--store-address", &url];
    store_round_trip(&backend, open, &label).await;

    postgres.kill();
    let mut args = vec!["store", "read", "user/2"];
    args.extend(backend);
    let down = failed(&micro(&args).await);
    assert!(
        down.contains("refused or unreachable")
            && down.contains(&format!("asked the {label}; is it up")),
        "{down}"
    );
}

#[tokio::test]
async fn bad_store_input_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let bad_ttl = failed(&micro(&["store", "write", "k", "v", "--ttl", "soon"]).await);
    assert!(
        bad_ttl.contains("invalid value 'soon' for '--ttl"),
        "{bad_ttl}"
    );
    let empty = failed(&micro(&["store", "write", "", "v", "--store-address", path]).await);
    assert!(empty.contains("invalid store key: it is empty"), "{empty}");
    let database = ["--store-address", path, "--store-database", "../x"];
    let mut args = vec!["store", "list"];
    args.extend(database);
    let bad = failed(&micro(&args).await);
    assert!(bad.contains("invalid database name \"../x\""), "{bad}");
}

/// A service's config from `--config` flags, as `micro::Service` builds it.
async fn service_config(sources: &[&str]) -> micro::config::Config {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        micro: micro::Flags,
    }
    let mut args = vec!["svc"];
    for source in sources {
        args.extend(["--config", source]);
    }
    let service = micro::Service::new("svc").flags(Cli::parse_from(args).micro);
    service
        .config()
        .await
        .expect("the service loads its config")
}

async fn next(watcher: &mut micro::config::Watcher) -> Value {
    tokio::time::timeout(Duration::from_secs(15), watcher.next())
        .await
        .expect("the service sees the change within 15 s")
        .unwrap()
}

/// `micro config` against an etcd that takes only TLS with a client certificate, given the
/// same `--config-tls-*` options a service takes; without them it is refused.
#[tokio::test]
async fn config_speaks_tls_to_etcd_with_a_client_certificate() {
    let Some(etcd) = EtcdServer::start_tls() else {
        return;
    };
    let client = etcd.issue_client("micro");
    let source = format!("etcd://{}", etcd.address());
    let (ca, cert, key) = (etcd.ca(), client.cert.clone(), client.key.clone());
    let tls = [
        "--config-tls-ca",
        ca.to_str().unwrap(),
        "--config-tls-cert",
        cert.to_str().unwrap(),
        "--config-tls-key",
        key.to_str().unwrap(),
    ];
    let with_tls = |args: &[&'static str]| {
        let mut all: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        all.extend(["--config".to_owned(), source.clone()]);
        all.extend(tls.iter().map(|arg| arg.to_string()));
        all
    };
    let set = with_tls(&["config", "set", "greeting", "hello"]);
    ok(&micro(&set.iter().map(String::as_str).collect::<Vec<_>>()).await);
    let get = with_tls(&["config", "get", "greeting"]);
    let got = micro(&get.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(ok(&got), "\"hello\"\n");

    let plain = micro(&["config", "get", "greeting", "--config", &source]).await;
    failed(&plain);
}

#[tokio::test]
async fn config_set_and_delete_reach_a_watching_service() {
    let Some(etcd) = EtcdServer::start() else {
        return;
    };
    let source = format!("etcd://{}", etcd.address());
    let label = format!("etcd at {} (/micro/config/)", etcd.address());
    let config = service_config(&[&source]).await;
    let mut address = config.watch("database.address");

    let set = micro(&[
        "config",
        "set",
        "database.address",
        "10.0.0.1:5432",
        "--config",
        &source,
    ])
    .await;
    assert_eq!(ok(&set), format!("set database.address in {label}\n"));
    assert_eq!(next(&mut address).await, json!("10.0.0.1:5432"));
    let set = micro(&[
        "config",
        "set",
        "database.port",
        "5432",
        "--config",
        &source,
        "-o",
        "json",
    ])
    .await;
    assert_eq!(
        json(&ok(&set)),
        json!({"path": "database.port", "value": 5432, "source": source})
    );
    let get = micro(&["config", "get", "database.address", "--config", &source]).await;
    assert_eq!(ok(&get), "\"10.0.0.1:5432\"\n");

    // Sources merge as services merge them: later wins.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.yaml");
    std::fs::write(
        &file,
        "database:\n  address: file:1\n  user: app\ndebug: true\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let merged = micro(&[
        "config", "get", "--config", file, "--config", &source, "-o", "json",
    ])
    .await;
    assert_eq!(
        json(&ok(&merged)),
        json!({"database": {"address": "10.0.0.1:5432", "port": 5432, "user": "app"},
               "debug": true})
    );
    let human = micro(&["config", "get", "database", "--config", &source]).await;
    assert_eq!(
        ok(&human),
        "{\n  \"address\": \"10.0.0.1:5432\",\n  \"port\": 5432\n}\n"
    );

    let deleted = micro(&["config", "delete", "database.address", "--config", &source]).await;
    assert_eq!(
        ok(&deleted),
        format!("deleted database.address from {label} (1 key)\n")
    );
    assert_eq!(next(&mut address).await, Value::Null);
    let missing = failed(&micro(&["config", "get", "database.address", "--config", &source]).await);
    assert_eq!(
        missing,
        format!(
            "error: nothing at \"database.address\" in the config of {source}; `micro config \
             get` prints the whole tree\n"
        )
    );
    let again =
        failed(&micro(&["config", "delete", "database.address", "--config", &source]).await);
    assert!(again.starts_with("error: nothing to delete"), "{again}");
    let mut port = config.watch("database.port");
    assert_eq!(port.current(), Some(json!(5432)));
    ok(&micro(&["config", "delete", "database", "--config", &source]).await);
    assert_eq!(next(&mut port).await, Value::Null);
    assert_eq!(config.get::<Value>("").unwrap(), json!({}));
}

#[tokio::test]
async fn config_refuses_what_it_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.json");
    std::fs::write(&file, r#"{"greeting": "hi"}"#).unwrap();
    let file = file.to_str().unwrap();
    assert_eq!(
        ok(&micro(&["config", "get", "greeting", "--config", file]).await),
        "\"hi\"\n"
    );
    let edit = failed(&micro(&["config", "set", "greeting", "yo", "--config", file]).await);
    assert_eq!(
        edit,
        format!(
            "error: `micro config set` writes to etcd, and {file} is not an etcd source: it is \
             a file: edit the file (services reload it when it changes), or pass --config \
             etcd://HOST:2379\n"
        )
    );
    let env = failed(&micro(&["config", "delete", "db.host", "--config", "env://APP"]).await);
    assert!(
        env.contains("set (or unset) APP_DB_HOST in the service's environment"),
        "{env}"
    );
    let none = failed(&micro(&["config", "set", "a", "1"]).await);
    assert!(none.contains("pass --config etcd://HOST:2379"), "{none}");
    let bad_path = failed(
        &micro(&[
            "config",
            "set",
            "a..b",
            "1",
            "--config",
            "etcd://127.0.0.1:1",
        ])
        .await,
    );
    assert!(
        bad_path.contains("invalid config path \"a..b\""),
        "{bad_path}"
    );
    let bad_json = failed(
        &micro(&[
            "config",
            "set",
            "a",
            "{oops",
            "--config",
            "etcd://127.0.0.1:1",
        ])
        .await,
    );
    assert!(
        bad_json.contains("starts like JSON but does not parse"),
        "{bad_json}"
    );
    let down = failed(&micro(&["config", "get", "--config", "etcd://127.0.0.1:1"]).await);
    assert!(down.contains("etcd at 127.0.0.1:1 unreachable"), "{down}");
    let unknown = failed(&micro(&["config", "get", "--config", "ftp://x"]).await);
    assert!(
        unknown.contains("unknown config source \"ftp://x\""),
        "{unknown}"
    );
}

/// `micro auth <args>` with both keys.
async fn auth(keys: &(String, String), args: &[&str]) -> Output {
    let mut all = vec!["auth"];
    all.extend(args);
    all.extend(["--auth-public-key", &keys.0, "--auth-private-key", &keys.1]);
    micro(&all).await
}

/// helloworld with `--auth jwt`, the public key and the rules file, as flags give them.
async fn guarded_helloworld(public: &str, rules: &Path) -> micro::RunningService {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        micro: micro::Flags,
    }
    let flags = Cli::parse_from([
        "helloworld",
        "--auth",
        "jwt",
        "--auth-public-key",
        public,
        "--auth-rules",
        rules.to_str().unwrap(),
        "--server-address",
        "127.0.0.1:0",
    ]);
    micro::Service::new("helloworld")
        .handle(HelloworldServer::new(Greeter))
        .registry(micro::registry::build("memory", &[]).unwrap())
        .flags(flags.micro)
        .start()
        .await
        .expect("helloworld starts")
}

/// Calls helloworld with `micro call --token`.
async fn greet(service: &micro::RunningService, token: &str) -> Output {
    let address = service.local_addr().to_string();
    micro(&[
        "call",
        "--registry",
        "memory",
        "--address",
        &address,
        "--token",
        token,
        "helloworld",
        "Helloworld.Greeting",
        r#"{"name":"alice"}"#,
    ])
    .await
}

#[tokio::test]
async fn auth_accounts_and_tokens_work_with_services_keys() {
    let dir = tempfile::tempdir().unwrap();
    let keys = micro_test_support::rsa_key_pair(dir.path());
    let created = auth(
        &keys,
        &[
            "create",
            "account",
            "alice",
            "--scopes",
            "greeter,admin",
            "-o",
            "json",
        ],
    )
    .await;
    let account = json(&ok(&created));
    let secret = account["secret"].as_str().unwrap().to_owned();
    assert!(!secret.is_empty());
    assert_eq!(
        account,
        json!({"id": "alice", "type": "user", "issuer": "micro", "metadata": {},
               "scopes": ["greeter", "admin"], "secret": secret})
    );
    let human = ok(&auth(
        &keys,
        &[
            "create", "account", "billing", "--type", "service", "--scopes", "service", "--expiry",
            "1h",
        ],
    )
    .await);
    let (fields, rest) = human.split_at(human.find("secret: ").unwrap());
    assert_eq!(
        fields,
        "id: billing\ntype: service\nissuer: micro\nscopes: service\nmetadata:\n"
    );
    assert!(rest.ends_with("\n(valid for 1h; trade it for a token with `micro auth token --id billing --secret …`)\n"), "{rest}");

    let token = ok(&auth(&keys, &["token", "--id", "alice", "--secret", &secret]).await);
    let token = token.trim_end();
    assert_eq!(token.matches('.').count(), 2, "a JWT: {token}");
    let minted = json(&ok(&auth(
        &keys,
        &[
            "token", "--id", "alice", "--secret", &secret, "--expiry", "10m", "-o", "json",
        ],
    )
    .await));
    let refresh = minted["refresh_token"].as_str().unwrap();
    let refreshed = ok(&auth(&keys, &["token", "--refresh-token", refresh]).await);

    // Inspecting needs only the public key.
    for token in [token, refreshed.trim_end()] {
        let inspected = micro(&["auth", "inspect", token, "--auth-public-key", &keys.0]).await;
        assert_eq!(
            ok(&inspected),
            "id: alice\ntype: user\nissuer: micro\nscopes: greeter,admin\nmetadata:\n"
        );
    }
    let inspected = micro(&[
        "auth",
        "inspect",
        token,
        "--auth-public-key",
        &keys.0,
        "-o",
        "json",
    ])
    .await;
    assert_eq!(
        json(&ok(&inspected)),
        json!({"id": "alice", "type": "user", "issuer": "micro", "metadata": {},
               "scopes": ["greeter", "admin"]})
    );

    // Refusals say why and what to do.
    let other_dir = tempfile::tempdir().unwrap();
    let other = micro_test_support::rsa_key_pair(other_dir.path());
    let foreign = failed(&micro(&["auth", "inspect", token, "--auth-public-key", &other.0]).await);
    assert!(
        foreign.starts_with(
            "error: the token is refused: invalid token: its signature does not match the \
             public key (signed with another key?)"
        ),
        "{foreign}"
    );
    let garbage =
        failed(&micro(&["auth", "inspect", "nonsense", "--auth-public-key", &keys.0]).await);
    assert!(
        garbage.starts_with("error: the token is refused: invalid token: not a JWT"),
        "{garbage}"
    );
    let no_key = failed(&micro(&["auth", "inspect", token]).await);
    assert!(no_key.contains("pass --auth-public-key"), "{no_key}");
    let no_private = failed(
        &micro(&[
            "auth",
            "create",
            "account",
            "x",
            "--auth-public-key",
            &keys.0,
        ])
        .await,
    );
    assert!(
        no_private.contains("--auth-private-key and --auth-public-key"),
        "{no_private}"
    );
    let wrong = failed(&auth(&keys, &["token", "--id", "bob", "--secret", &secret]).await);
    assert!(
        wrong.contains("the secret belongs to account `alice`, not `bob`"),
        "{wrong}"
    );
    let not_a_key = failed(&micro(&["auth", "inspect", token, "--auth-public-key", "%%%"]).await);
    assert!(
        not_a_key.contains("neither a PEM nor base64"),
        "{not_a_key}"
    );
}

#[tokio::test]
async fn rules_written_by_the_cli_decide_a_services_calls() {
    let dir = tempfile::tempdir().unwrap();
    let keys = micro_test_support::rsa_key_pair(dir.path());
    let rules = dir.path().join("rules.json");
    let file = rules.to_str().unwrap();
    let rule_cmd = |args: &[&str]| {
        let mut all = vec!["auth", "rules"];
        all.extend(args);
        all.extend(["--rules-file", file]);
        all.iter().map(|a| a.to_string()).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| async move {
        micro(&args.iter().map(String::as_str).collect::<Vec<_>>()).await
    };

    let missing = failed(&run(rule_cmd(&["list"])).await);
    assert!(missing.contains("cannot read the rules file"), "{missing}");
    let granted = ok(&run(rule_cmd(&[
        "grant",
        "greet",
        "--scope",
        "greeter",
        "--service",
        "helloworld",
        "--endpoint",
        "Helloworld.Greeting",
    ]))
    .await);
    assert_eq!(
        granted,
        format!(
            "granted greet in {file}\n(services read it when they start: restart them to apply it)\n"
        )
    );
    ok(&run(rule_cmd(&[
        "deny",
        "no-admins",
        "--scope",
        "admin",
        "--service",
        "helloworld",
        "--priority",
        "10",
    ]))
    .await);
    assert_eq!(
        ok(&run(rule_cmd(&["list"])).await),
        "ID         ACCESS  SCOPE    SERVICE     ENDPOINT             PRIORITY\n\
         no-admins  deny    admin    helloworld  *                    10\n\
         greet      grant   greeter  helloworld  Helloworld.Greeting  0\n"
    );
    // The file is what services read: go-micro's Rule fields.
    let expected = json!([
        {"ID": "greet", "Scope": "greeter", "Access": 0, "Priority": 0,
         "Resource": {"Type": "service", "Name": "helloworld", "Endpoint": "Helloworld.Greeting"}},
        {"ID": "no-admins", "Scope": "admin", "Access": 1, "Priority": 10,
         "Resource": {"Type": "service", "Name": "helloworld", "Endpoint": "*"}},
    ]);
    assert_eq!(json(&std::fs::read_to_string(&rules).unwrap()), expected);
    assert_eq!(MemoryRules::from_file(&rules).unwrap().list().len(), 2);
    let listed = json(&ok(&run(rule_cmd(&["list", "-o", "json"])).await));
    assert_eq!(listed, json!([expected[1], expected[0]]));

    let token_of = |id: &'static str, scopes: &'static str| {
        let keys = keys.clone();
        async move {
            let account = json(&ok(&auth(
                &keys,
                &["create", "account", id, "--scopes", scopes, "-o", "json"],
            )
            .await));
            let secret = account["secret"].as_str().unwrap().to_owned();
            ok(&auth(&keys, &["token", "--id", id, "--secret", &secret]).await)
                .trim_end()
                .to_owned()
        }
    };
    let greeter = token_of("gina", "greeter").await;
    let admin = token_of("alice", "greeter,admin").await;
    let stranger = token_of("sam", "other").await;

    let service = guarded_helloworld(&keys.0, &rules).await;
    assert_eq!(
        json(&ok(&greet(&service, &greeter).await)),
        json!({"message": "Hello alice"})
    );
    let denied = failed(&greet(&service, &admin).await);
    assert!(denied.contains("PERMISSION_DENIED"), "{denied}");
    let stranger_denied = failed(&greet(&service, &stranger).await);
    assert!(
        stranger_denied.contains("PERMISSION_DENIED"),
        "{stranger_denied}"
    );
    service.stop().await.unwrap();

    // Services read the file when they start: revoking the deny lets admins through.
    ok(&run(rule_cmd(&["revoke", "no-admins"])).await);
    let service = guarded_helloworld(&keys.0, &rules).await;
    ok(&greet(&service, &admin).await);
    service.stop().await.unwrap();

    ok(&run(rule_cmd(&["revoke", "greet"])).await);
    assert_eq!(json(&std::fs::read_to_string(&rules).unwrap()), json!([]));
    let service = guarded_helloworld(&keys.0, &rules).await;
    let refused = failed(&greet(&service, &greeter).await);
    assert!(refused.contains("PERMISSION_DENIED"), "{refused}");
    service.stop().await.unwrap();

    let gone = failed(&run(rule_cmd(&["revoke", "greet"])).await);
    assert_eq!(
        gone,
        format!("error: no rule \"greet\" in {file}; `micro auth rules list` shows them\n")
    );
    let no_file = failed(&micro(&["auth", "rules", "list"]).await);
    assert!(
        no_file.contains("--rules-file FILE (or MICRO_AUTH_RULES)"),
        "{no_file}"
    );
}
