//! How results and errors are printed: for people, or as JSON for scripts.

use std::fmt;

/// `--output`: `human` (the default) or `json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Output {
    /// Aligned text for people.
    #[default]
    Human,
    /// One JSON document (or JSON lines for streams) on stdout.
    Json,
}

impl Output {
    /// Prints `err` on stderr: its message and causes for people; `{"error": …}` as JSON.
    pub fn error(self, err: &anyhow::Error) {
        match self {
            Output::Human => eprintln!("error: {err:#}"),
            Output::Json => eprintln!("{}", serde_json::json!({ "error": format!("{err:#}") })),
        }
    }

    /// Whether output is JSON.
    pub fn is_json(self) -> bool {
        self == Output::Json
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Output::Human => "human",
            Output::Json => "json",
        })
    }
}
