//! `micro <service> [words] [--field=value …]`: a command that is neither micro's own nor a
//! plugin calls an endpoint of the registered service it names, as go-micro's CLI does:
//! `micro helloworld greeting --name=alice` calls `Helloworld.Greeting` with
//! `{"name":"alice"}`. `micro <service>` (or `--help`) lists the service's commands, and
//! `micro <service> <command> --help` the command's flags.
//!
//! Commands are matched to endpoints without regard to case, and a method's name alone is
//! enough when only one handler has it (`micro streaming ping` calls `Streamer.Ping`). Flags
//! are typed by the service's descriptors when it serves reflection, else by the registry's
//! description of the request (go-micro services before v6.10).

use anyhow::{Context as _, bail};
use micro::registry::{Endpoint, ErrorKind, Value as Shape};
use serde_json::{Map, Value};

use super::call;
use crate::Env;
use crate::cli::CallArgs;
use crate::endpoint_name;
use crate::go_type::{GoType, go_type};
use crate::output::outln;

/// Calls the endpoint `words` name (or prints the service's commands); fails as an unknown
/// command when no service of that name is registered.
pub(super) async fn run(env: &Env, words: &[String]) -> anyhow::Result<()> {
    let Some((name, rest)) = words.split_first() else {
        bail!("no command given; `micro --help` lists them");
    };
    let endpoints = registered_endpoints(env, name).await?;
    let (words, flags) = split(rest)?;
    let help = flags.iter().any(|(key, _)| key == "help");
    if words.is_empty() {
        outln!("{}", usage(name, &endpoints));
        return Ok(());
    }
    let endpoint = resolve(name, &endpoints, &words)?;
    if help {
        outln!("{}", flag_usage(name, &words, endpoint));
        return Ok(());
    }
    let request = request(env, name, endpoint, &flags).await?;
    let args = CallArgs {
        service: name.clone(),
        endpoint: endpoint.name.clone(),
        request: Some(request.to_string()),
        metadata: Vec::new(),
        address: None,
    };
    call::run(env, &args).await
}

/// The endpoints the registry lists for `name` (every version's, once each).
async fn registered_endpoints(env: &Env, name: &str) -> anyhow::Result<Vec<Endpoint>> {
    let versions = match env.registry.get_service(name).await {
        Ok(versions) => versions,
        Err(err) if err.kind() == ErrorKind::NotFound => Vec::new(),
        Err(err) => {
            return Err(err).with_context(|| {
                format!("`{name}` is not a micro command; cannot look it up as a service")
            });
        }
    };
    if versions.iter().all(|version| version.nodes.is_empty()) {
        bail!(
            "unknown command `{name}`: it is not one of micro's (`micro --help` lists them), \
             there is no `micro-{name}` plugin on PATH, and no service `{name}` is registered \
             ({})",
            env.not_found_hint()
        );
    }
    let mut endpoints: Vec<Endpoint> = Vec::new();
    for endpoint in versions.into_iter().flat_map(|version| version.endpoints) {
        if endpoints.iter().all(|known| known.name != endpoint.name) {
            endpoints.push(endpoint);
        }
    }
    Ok(endpoints)
}

/// A flag's key and its values (`--tag a --tag b`); a flag with no value has none.
type Flags = Vec<(String, Vec<String>)>;

/// Words, and flags in go-micro's forms: `--key=value`, `--key value`, and `--key` alone
/// (`-h` is `--help`).
fn split(arguments: &[String]) -> anyhow::Result<(Vec<String>, Flags)> {
    let (mut words, mut flags): (Vec<String>, Flags) = (Vec::new(), Vec::new());
    let mut waiting: Option<usize> = None;
    for argument in arguments {
        let argument = match argument.as_str() {
            "-h" => "--help",
            other => other,
        };
        let Some(flag) = argument.strip_prefix("--") else {
            match waiting.take() {
                Some(index) => flags[index].1.push(argument.to_owned()),
                None => words.push(argument.to_owned()),
            }
            continue;
        };
        let (key, value) = match flag.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (flag, None),
        };
        if key.is_empty() {
            bail!("`{argument}` is not a flag; write `--field=value`");
        }
        let index = match flags.iter().position(|(known, _)| known == key) {
            Some(index) => index,
            None => {
                flags.push((key.to_owned(), Vec::new()));
                flags.len() - 1
            }
        };
        match value {
            Some(value) => flags[index].1.push(value.to_owned()),
            None => waiting = Some(index),
        }
    }
    Ok((words, flags))
}

/// The endpoint `words` name: `Handler.Method`, `handler method`, or `method` (see
/// [`endpoint_name::find`]).
fn resolve<'a>(
    service: &str,
    endpoints: &'a [Endpoint],
    words: &[String],
) -> anyhow::Result<&'a Endpoint> {
    let wanted = match words {
        [word] => Some(word.clone()),
        [handler, method] => Some(format!("{handler}.{method}")),
        _ => None,
    };
    let names: Vec<&str> = endpoints.iter().map(|e| e.name.as_str()).collect();
    let found = wanted
        .and_then(|wanted| endpoint_name::find(service, &names, &wanted))
        .and_then(|name| endpoints.iter().find(|endpoint| endpoint.name == name));
    found.ok_or_else(|| {
        anyhow::anyhow!(
            "`{}` names no endpoint of {service}\n\n{}",
            words.join(" "),
            usage(service, endpoints)
        )
    })
}

/// The command that calls `endpoint`: `greeting` for `Helloworld.Greeting` of `helloworld`,
/// else `handler method`.
fn command(service: &str, endpoint: &str) -> String {
    match endpoint.split_once('.') {
        Some((handler, method)) if handler.eq_ignore_ascii_case(service) => lower_initial(method),
        Some((handler, method)) => format!("{} {}", lower_initial(handler), lower_initial(method)),
        None => lower_initial(endpoint),
    }
}

fn lower_initial(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

/// The service's commands.
fn usage(service: &str, endpoints: &[Endpoint]) -> String {
    let mut lines: Vec<(String, &str)> = endpoints
        .iter()
        .map(|endpoint| (command(service, &endpoint.name), endpoint.name.as_str()))
        .collect();
    lines.sort();
    let width = lines.iter().map(|(command, _)| command.len()).max();
    let mut text = format!("Usage: micro {service} <command> [--field=value ...]\n\nCommands:");
    for (command, endpoint) in &lines {
        let width = width.unwrap_or_default();
        text.push_str(&format!("\n  {command:width$}  {endpoint}"));
    }
    if lines.is_empty() {
        text.push_str("\n  (the registry lists no endpoints)");
    }
    text.push_str(&format!(
        "\n\n`micro {service} <command> --help` lists a command's flags."
    ));
    text
}

/// The flags of `endpoint`'s request, from the registry's description of it.
fn flag_usage(service: &str, words: &[String], endpoint: &Endpoint) -> String {
    let mut text = format!(
        "Usage: micro {service} {} [--field=value ...]\n\nCalls {}.\n\nFlags:",
        words.join(" "),
        endpoint.name
    );
    let mut flags = Vec::new();
    let fields = endpoint
        .request
        .as_ref()
        .map(|shape| shape.values.as_slice());
    collect_flags("", fields.unwrap_or_default(), &mut flags);
    for (flag, kind) in &flags {
        text.push_str(&format!("\n  --{flag} {kind}"));
    }
    if flags.is_empty() {
        text.push_str("\n  (none)");
    }
    text.push_str(
        "\n\nNested fields are `--parent.child` (or go-micro's `--parent-child`); repeat a flag \
         for each value of a list.",
    );
    text
}

fn collect_flags(prefix: &str, fields: &[Shape], flags: &mut Vec<(String, String)>) {
    for field in fields {
        let path = format!("{prefix}{}", field.name);
        match field.values.is_empty() {
            true => flags.push((path, field.kind.clone())),
            false => collect_flags(&format!("{path}."), &field.values, flags),
        }
    }
}

/// The request JSON the flags describe, typed by the service's descriptors when it serves
/// reflection, else by the registry's description.
async fn request(
    env: &Env,
    service: &str,
    endpoint: &Endpoint,
    flags: &Flags,
) -> anyhow::Result<Value> {
    let mut request = Value::Object(Map::new());
    match env.catalog.method(service, &endpoint.name).await {
        Ok(method) => {
            let input = method.input();
            for (key, values) in flags {
                let path = key.replace('-', ".");
                for value in values_or_flag(values) {
                    micro::http_rule::set_field(&mut request, &input, &path, value, "flag")
                        .map_err(|err| anyhow::anyhow!("{}", err.message()))?;
                }
            }
        }
        Err(_) => {
            let fields = endpoint
                .request
                .as_ref()
                .map(|shape| shape.values.as_slice());
            for (key, values) in flags {
                set_registered(&mut request, fields.unwrap_or_default(), key, values)?;
            }
        }
    }
    Ok(request)
}

/// A flag's values; a flag given without one (`--shout`) is `""`, which reads as `true` for a
/// bool.
fn values_or_flag(values: &[String]) -> Vec<&str> {
    match values.is_empty() {
        true => vec![""],
        false => values.iter().map(String::as_str).collect(),
    }
}

/// Sets the field `key` names to `values`, typed by the registry's shape of the request.
fn set_registered(
    request: &mut Value,
    fields: &[Shape],
    key: &str,
    values: &[String],
) -> anyhow::Result<()> {
    let unknown = |fields: &[Shape]| {
        let names: Vec<&str> = fields.iter().map(|field| field.name.as_str()).collect();
        anyhow::anyhow!(
            "flag `--{key}`: the request has no such field; its fields are {}",
            names.join(", ")
        )
    };
    let mut names = key.split(['.', '-']).peekable();
    let (mut fields, mut object) = (fields, request);
    while let Some(name) = names.next() {
        let field = fields
            .iter()
            .find(|field| field.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| unknown(fields))?;
        let Value::Object(map) = object else {
            bail!("flag `--{key}`: `{name}` is not in a message");
        };
        if names.peek().is_none() {
            map.insert(field.name.clone(), registered_value(field, values, key)?);
            return Ok(());
        }
        object = map
            .entry(field.name.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        fields = &field.values;
    }
    Ok(())
}

/// `values` as JSON of the registry's type name (`bool`, `int64`, `[]string`, …); go-micro's
/// lists also take `a,b,c`.
fn registered_value(field: &Shape, values: &[String], key: &str) -> anyhow::Result<Value> {
    let values = values_or_flag(values);
    let one = |kind: &str, raw: &str| scalar(kind, raw).with_context(|| format!("flag `--{key}`"));
    if let GoType::List(item) = go_type(&field.kind) {
        let items = values.iter().flat_map(|value| value.split(','));
        return items
            .map(|raw| one(item, raw))
            .collect::<anyhow::Result<Vec<_>>>()
            .map(Value::Array);
    }
    one(&field.kind, values.last().copied().unwrap_or_default())
}

/// One value of the Go type `kind`; a map's is JSON, as go-micro's CLI reads it.
fn scalar(kind: &str, raw: &str) -> anyhow::Result<Value> {
    let number = |parsed: Option<serde_json::Number>| {
        parsed
            .map(Value::Number)
            .ok_or_else(|| anyhow::anyhow!("`{raw}` is not a number ({kind})"))
    };
    match go_type(kind) {
        GoType::Bool => match raw {
            "" | "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => bail!("`{raw}` is not a bool; use true or false"),
        },
        GoType::Int { unsigned: false } | GoType::Int64 { unsigned: false } => {
            number(raw.parse::<i64>().ok().map(Into::into))
        }
        GoType::Int { unsigned: true } | GoType::Int64 { unsigned: true } => {
            number(raw.parse::<u64>().ok().map(Into::into))
        }
        GoType::Float => number(
            raw.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64),
        ),
        GoType::Map => {
            Ok(serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned())))
        }
        GoType::String | GoType::Bytes | GoType::List(_) | GoType::Other => {
            Ok(Value::String(raw.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|word| (*word).to_owned()).collect()
    }

    fn endpoint(name: &str) -> Endpoint {
        Endpoint {
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn flags_take_go_micros_forms() {
        let (found, flags) = split(&words(&[
            "greeting",
            "--name=alice",
            "--tag",
            "a",
            "--tag=b",
            "--shout",
            "--times",
            "2",
        ]))
        .unwrap();
        assert_eq!(found, ["greeting"]);
        let expected = [
            ("name", vec!["alice"]),
            ("tag", vec!["a", "b"]),
            ("shout", vec![]),
            ("times", vec!["2"]),
        ];
        let expected: Flags = expected
            .iter()
            .map(|(key, values)| {
                (
                    key.to_string(),
                    values.iter().map(|v| v.to_string()).collect(),
                )
            })
            .collect();
        assert_eq!(flags, expected);
        assert!(split(&words(&["--=x"])).is_err());
    }

    #[test]
    fn words_name_endpoints_whatever_their_case() {
        let endpoints = [
            endpoint("Helloworld.Greeting"),
            endpoint("Streamer.Ping"),
            endpoint("Other.Ping"),
            endpoint("Streamer.SayHello"),
        ];
        let find = |list: &[&str]| resolve("helloworld", &endpoints, &words(list)).map(|e| &e.name);
        assert_eq!(find(&["greeting"]).unwrap(), "Helloworld.Greeting");
        assert_eq!(
            find(&["helloworld", "GREETING"]).unwrap(),
            "Helloworld.Greeting"
        );
        assert_eq!(
            find(&["Helloworld.Greeting"]).unwrap(),
            "Helloworld.Greeting"
        );
        assert_eq!(find(&["sayhello"]).unwrap(), "Streamer.SayHello");
        assert_eq!(find(&["streamer", "ping"]).unwrap(), "Streamer.Ping");
        // Two handlers have Ping: the handler must be named.
        let ambiguous = find(&["ping"]).unwrap_err().to_string();
        assert!(
            ambiguous.contains("streamer ping") && ambiguous.contains("other ping"),
            "{ambiguous}"
        );
        assert!(find(&["a", "b", "c"]).is_err());
    }

    #[test]
    fn usage_lists_commands_as_they_are_typed() {
        let endpoints = [
            endpoint("Helloworld.Greeting"),
            endpoint("Streamer.SayHello"),
        ];
        let text = usage("helloworld", &endpoints);
        assert!(
            text.contains("\n  greeting           Helloworld.Greeting"),
            "{text}"
        );
        assert!(
            text.contains("\n  streamer sayHello  Streamer.SayHello"),
            "{text}"
        );
    }

    #[test]
    fn registered_shapes_type_flags_as_go_micro_does() {
        let shape = |name: &str, kind: &str, values: Vec<Shape>| Shape {
            name: name.into(),
            kind: kind.into(),
            values,
        };
        let fields = [
            shape("name", "string", vec![]),
            shape("count", "int64", vec![]),
            shape("loud", "bool", vec![]),
            shape("tags", "[]string", vec![]),
            shape(
                "options",
                "Options",
                vec![shape("ratio", "float64", vec![])],
            ),
            shape("data", "[]byte", vec![]),
            shape("limit", "*int32", vec![]),
        ];
        let mut request = json!({});
        let set = |request: &mut Value, key: &str, values: &[&str]| {
            set_registered(request, &fields, key, &words(values))
        };
        set(&mut request, "name", &["alice"]).unwrap();
        set(&mut request, "count", &["3"]).unwrap();
        set(&mut request, "loud", &[]).unwrap();
        set(&mut request, "tags", &["a,b", "c"]).unwrap();
        set(&mut request, "options-ratio", &["0.5"]).unwrap();
        set(&mut request, "data", &["aGk="]).unwrap();
        set(&mut request, "limit", &["5"]).unwrap();
        assert_eq!(
            request,
            json!({"name": "alice", "count": 3, "loud": true, "tags": ["a", "b", "c"],
                   "options": {"ratio": 0.5}, "data": "aGk=", "limit": 5})
        );
        let error = set(&mut request, "count", &["many"]).unwrap_err();
        assert!(format!("{error:#}").contains("not a number"), "{error:#}");
        let error = set(&mut request, "colour", &["red"])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("name, count, loud, tags, options, data, limit"),
            "{error}"
        );
    }
}
