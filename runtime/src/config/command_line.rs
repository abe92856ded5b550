//! Command-line flags as a source: `--server-port 9090` → `{"server": {"port": 9090}}`.

use clap::ArgMatches;
use clap::parser::ValueSource;
use serde_json::{Map, Value};

use super::tree::{insert, name_to_keys, typed_scalar};
use super::{BoxFuture, Error, Source};

/// Command-line flags as nested keys: names are lowercased and split on `-` and `_`; values are typed
/// integer → bool → string. Not watched.
#[derive(Debug, Clone, Default)]
pub struct CommandLine {
    values: Vec<(String, String)>,
}

impl CommandLine {
    /// Flags from `(name, value)` pairs; a leading `--` on a name is ignored.
    pub fn new<K: Into<String>, V: Into<String>>(
        values: impl IntoIterator<Item = (K, V)>,
    ) -> CommandLine {
        CommandLine {
            values: values
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The flags a user gave (on the command line or through their `env`), not clap's
    /// defaults, so that defaults of earlier sources still apply. A flag given several times
    /// keeps its last value; values that are not UTF-8 are skipped.
    pub fn from_matches(matches: &ArgMatches) -> CommandLine {
        let mut values = Vec::new();
        for id in matches.ids() {
            // Argument groups (clap derive makes one per struct) hold the ids of their members.
            if matches!(matches.try_get_many::<clap::Id>(id.as_str()), Ok(Some(_))) {
                continue;
            }
            let given = matches!(
                matches.value_source(id.as_str()),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            );
            let Ok(Some(mut raw)) = matches.try_get_raw(id.as_str()) else {
                continue;
            };
            let last = raw.next_back().and_then(|value| value.to_str());
            if let (true, Some(value)) = (given, last) {
                values.push((id.to_string(), value.to_owned()));
            }
        }
        CommandLine { values }
    }

    fn tree(&self) -> Value {
        let mut tree = Value::Object(Map::new());
        for (name, value) in &self.values {
            let keys = name_to_keys(name.trim_start_matches('-'), &['-', '_']);
            if !keys.is_empty() {
                insert(
                    &mut tree,
                    keys.iter().map(String::as_str),
                    typed_scalar(value),
                );
            }
        }
        tree
    }
}

impl Source for CommandLine {
    fn read(&self) -> BoxFuture<'_, Result<Value, Error>> {
        Box::pin(async move { Ok(self.tree()) })
    }

    fn describe(&self) -> String {
        "flags".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use clap::{Arg, Command};
    use serde_json::json;

    use super::*;

    #[test]
    fn names_split_on_dashes_and_underscores() {
        let flags = CommandLine::new([("--server-port", "9090"), ("server_name", "greeter")]);
        assert_eq!(
            flags.tree(),
            json!({"server": {"port": 9090, "name": "greeter"}})
        );
    }

    #[test]
    fn derived_parsers_with_groups_and_switches() {
        use clap::{Args, Parser};

        #[derive(Args)]
        struct Server {
            #[arg(long)]
            server_port: Option<u16>,
            #[arg(long, default_value = "greeter")]
            server_name: String,
        }
        #[derive(Parser)]
        struct Cli {
            #[arg(long)]
            debug: bool,
            #[command(flatten)]
            server: Server,
        }
        let matches = <Cli as clap::CommandFactory>::command().get_matches_from([
            "app",
            "--server-port",
            "9090",
            "--debug",
        ]);
        assert_eq!(
            CommandLine::from_matches(&matches).tree(),
            json!({"server": {"port": 9090}, "debug": true})
        );
    }

    #[test]
    fn clap_matches_give_only_what_the_user_set() {
        let command = Command::new("app")
            .arg(Arg::new("server-port").long("server-port"))
            .arg(
                Arg::new("log-level")
                    .long("log-level")
                    .default_value("info"),
            );
        let matches = command.get_matches_from(["app", "--server-port", "9090"]);
        assert_eq!(
            CommandLine::from_matches(&matches).tree(),
            json!({"server": {"port": 9090}})
        );
    }
}
