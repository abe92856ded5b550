//! How results and errors are printed: for people (aligned, coloured when stdout is a
//! terminal), or as JSON for scripts.

use std::fmt::{self, Write as _};

use anstyle::{AnsiColor, Style};

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
            Output::Human => {
                let (on, off) = (ERROR.render(), ERROR.render_reset());
                anstream::eprintln!("{on}error:{off} {}", error_text(err))
            }
            Output::Json => eprintln!("{}", serde_json::json!({ "error": error_text(err) })),
        }
    }

    /// Whether output is JSON.
    pub fn is_json(self) -> bool {
        self == Output::Json
    }

    /// Prints a command's result: `human` for people, `json` (pretty) for scripts.
    pub fn print(self, human: &str, json: &serde_json::Value) {
        match self {
            Output::Human => {
                use std::io::Write as _;
                finish_write(anstream::stdout().write_all(human.as_bytes()));
            }
            Output::Json => print_line(format_args!("{json:#}")),
        }
    }
}

/// Writes `args` and a newline to stdout, as `println!` does, but a reader that went away
/// (`micro services | head -1`) ends the program quietly, as it ends other command-line
/// tools, instead of panicking.
pub(crate) fn print_line(args: fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    finish_write(writeln!(stdout, "{args}").and_then(|()| stdout.flush()));
}

/// `println!` through [`print_line`].
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::print_line(format_args!($($arg)*))
    };
}
pub(crate) use outln;

/// Ends the program if stdout could not be written: quietly (success) when its reader is
/// gone, with the error otherwise.
fn finish_write(written: std::io::Result<()>) {
    match written {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(err) => {
            eprintln!("error: cannot write to stdout: {err}");
            std::process::exit(1);
        }
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

/// Headings and names.
pub(crate) const BOLD: Style = Style::new().bold();
/// Secondary detail: addresses, types.
pub(crate) const DIM: Style = Style::new().dimmed();
/// Good news: `SERVING`.
pub(crate) const GOOD: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)));
/// Bad news: errors, `NOT_SERVING`.
pub(crate) const ERROR: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)))
    .bold();

/// `text` in `style` (the escape codes are dropped when stdout is not a terminal).
pub(crate) fn styled(style: Style, text: impl fmt::Display) -> String {
    format!("{}{text}{}", style.render(), style.render_reset())
}

/// Rows as aligned columns under a bold header; cells may be styled.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let columns = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(visible_len(cell));
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| styled(BOLD, h)).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate().take(columns) {
            line.push_str(cell);
            if i + 1 < columns {
                let pad = widths[i] - visible_len(cell) + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

/// The length of `text` as shown, without escape codes.
fn visible_len(text: &str) -> usize {
    let mut len = 0;
    let mut in_escape = false;
    for c in text.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => len += 1,
        }
    }
    len
}

/// The error and its causes, `: `-joined as `{:#}` does, leaving out a cause the text before
/// already quotes (many errors say their cause in their message and keep it as the source).
fn error_text(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1).map(ToString::to_string) {
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_already_quoted_are_not_repeated() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let quoted =
            anyhow::Error::new(io).context("cannot read app.yaml: entity not found; create it");
        assert_eq!(
            error_text(&quoted),
            "cannot read app.yaml: entity not found; create it"
        );
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let unquoted = anyhow::Error::new(io).context("cannot read app.yaml");
        assert_eq!(
            error_text(&unquoted),
            "cannot read app.yaml: entity not found"
        );
    }

    #[test]
    fn tables_align_by_visible_width() {
        let rows = vec![
            vec![styled(GOOD, "SERVING"), "a".into()],
            vec!["NOT_SERVING".into(), "bb".into()],
        ];
        let text = table(&["STATUS", "NODE"], &rows);
        let plain: String = anstream::adapter::strip_str(&text).to_string();
        assert_eq!(
            plain,
            "STATUS       NODE\nSERVING      a\nNOT_SERVING  bb\n"
        );
    }
}
