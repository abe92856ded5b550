//! Proto comments become rustdoc, where a code block is a Rust doctest. Code in proto comments
//! is JSON, SQL, shell or pseudo-code (googleapis has hundreds of blocks), so `cargo test` of a
//! crate that includes generated code would try to compile them. Every code block rustdoc
//! would test is marked `text` before prost-build writes the comment.

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag};

/// The comment with its testable code blocks fenced as `text`, or `None` if it has none.
pub(crate) fn untestable(comment: &str) -> Option<String> {
    let lines: Vec<&str> = comment.split('\n').collect();
    let (doc, least) = as_rustdoc_reads_it(&lines);
    let blocks = testable_blocks(&doc);
    if blocks.is_empty() {
        return None;
    }
    let fence = fence_indent(least);
    let mut out: Vec<String> = lines.iter().map(|line| (*line).to_owned()).collect();
    for block in blocks.iter().rev() {
        match block {
            Block::Fenced { line } => out[*line] = text_info(&out[*line]),
            Block::Indented { first, last } => {
                out.insert(last + 1, format!("{fence}```"));
                out.insert(*first, format!("{fence}```text"));
            }
        }
    }
    Some(out.join("\n"))
}

/// A code block rustdoc would test, by the comment lines it spans.
#[derive(Debug, PartialEq)]
enum Block {
    /// A fenced block without a language, or with `rust`: its opening fence line.
    Fenced { line: usize },
    /// An indented block: its first and last lines.
    Indented { first: usize, last: usize },
}

/// The lines as rustdoc sees them: prost-build writes `///` and the line, adding a space unless
/// the line starts with exactly one (its `sanitize_line`), and rustdoc then removes the least
/// indentation of the non-blank lines. Returns the lines and that least indentation.
fn as_rustdoc_reads_it(lines: &[&str]) -> (Vec<String>, usize) {
    let written: Vec<String> = lines
        .iter()
        .map(|line| {
            let mut chars = line.chars();
            let one_space = chars.next() == Some(' ') && chars.next() != Some(' ');
            if one_space || line.is_empty() {
                (*line).to_owned()
            } else {
                format!(" {line}")
            }
        })
        .collect();
    let least = written
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| indentation(line))
        .min()
        .unwrap_or(0);
    let doc = written
        .into_iter()
        .map(|line| line.get(least..).unwrap_or("").to_owned())
        .collect();
    (doc, least)
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn testable_blocks(doc: &[String]) -> Vec<Block> {
    let text = doc.join("\n");
    let line_of = |offset: usize| text[..offset].matches('\n').count();
    let mut blocks = Vec::new();
    for (event, range) in Parser::new(&text).into_offset_iter() {
        let Event::Start(Tag::CodeBlock(kind)) = event else {
            continue;
        };
        match kind {
            CodeBlockKind::Fenced(info) if is_rust(&info) => blocks.push(Block::Fenced {
                line: line_of(range.start),
            }),
            CodeBlockKind::Fenced(_) => {}
            CodeBlockKind::Indented => {
                // The range ends after the block's last newline, if it has one.
                let end = text[..range.end].trim_end_matches('\n').len();
                blocks.push(Block::Indented {
                    first: line_of(range.start),
                    last: line_of(end),
                });
            }
        }
    }
    blocks
}

/// Whether rustdoc treats a fence's info string as Rust: no language, or `rust` among its
/// comma-separated attributes.
fn is_rust(info: &str) -> bool {
    let mut words = info
        .split([',', ' '])
        .filter(|word| !word.is_empty())
        .peekable();
    words.peek().is_none() || info.split([',', ' ']).any(|word| word == "rust")
}

/// An opening fence line with its info string replaced by `text`.
fn text_info(line: &str) -> String {
    let indent = &line[..indentation(line)];
    let rest = &line[indent.len()..];
    let marker = rest.chars().next().unwrap_or('`');
    let fence_len = rest.len() - rest.trim_start_matches(marker).len();
    format!("{indent}{}text", &rest[..fence_len])
}

/// The indentation a fence line needs in the proto comment for rustdoc to see it at the margin,
/// `least` spaces in: one space stays one; more gain one (so `least` is never two).
fn fence_indent(least: usize) -> String {
    " ".repeat(least.saturating_sub(1).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indented_code_is_fenced_as_text() {
        let comment = " Example:\n\n     {\"name\": \"x\"}\n     more\n\n After.\n";
        let fenced = untestable(comment).unwrap();
        assert_eq!(
            fenced,
            " Example:\n\n ```text\n     {\"name\": \"x\"}\n     more\n ```\n\n After.\n"
        );
        assert_eq!(untestable(&fenced), None, "nothing testable is left");
    }

    #[test]
    fn rust_and_bare_fences_become_text_others_stay() {
        assert_eq!(
            untestable(" ```\n x\n ```\n").unwrap(),
            " ```text\n x\n ```\n"
        );
        assert_eq!(
            untestable(" ```rust,ignore\n x\n ```\n").unwrap(),
            " ```text\n x\n ```\n"
        );
        assert_eq!(untestable(" ```json\n {}\n ```\n"), None);
        assert_eq!(untestable(" ~~~sql\n SELECT 1\n ~~~\n"), None);
    }

    #[test]
    fn deeper_comments_get_fences_at_their_margin() {
        // Written `//   Example:` and `//       code`: rustdoc sees four and eight spaces.
        let fenced = untestable("   Example:\n\n       code\n").unwrap();
        assert_eq!(fenced, "   Example:\n\n   ```text\n       code\n   ```\n");
        assert_eq!(untestable(&fenced), None);
    }

    #[test]
    fn plain_comments_are_untouched() {
        assert_eq!(untestable(" A message.\n"), None);
        assert_eq!(untestable(" A list:\n  * one\n  * two\n"), None);
    }
}
