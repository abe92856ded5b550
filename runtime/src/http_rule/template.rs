//! google.api.http path templates (`/v1/{name=shelves/*}/books:publish`), parsed once and
//! matched against request paths.
//!
//! ```text
//! Template = "/" Segments [ Verb ] ;   Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;   Verb = ":" LITERAL ;
//! ```

use std::fmt;

use percent_encoding::percent_decode_str;

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
    parts: Vec<Part>,
    /// Field paths of the variables, in order; parts refer to them by index.
    variables: Vec<String>,
    verb: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Part {
    matcher: Matcher,
    /// The variable this segment is bound to, if any.
    variable: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Matcher {
    Literal(String),
    /// `*`: exactly one segment.
    Segment,
    /// `**`: zero or more segments, as many as the parts after it leave (Firestore's
    /// `{parent=projects/*/databases/*/documents/*/**}/{collection_id}`).
    Rest,
}

/// A template that does not follow the grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    template: String,
    reason: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid google.api.http path template `{}`: {}",
            self.template, self.reason
        )
    }
}

impl std::error::Error for TemplateError {}

impl Template {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let fail = |reason: &str| TemplateError {
            template: text.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = text
            .strip_prefix('/')
            .ok_or_else(|| fail("it must start with `/`"))?;
        let (path, verb) = split_verb(rest);
        let mut template = Template {
            text: text.to_owned(),
            parts: Vec::new(),
            variables: Vec::new(),
            verb: verb.map(str::to_owned),
        };
        for segment in split_top_level(path).map_err(|reason| fail(&reason))? {
            template
                .push_segment(segment)
                .map_err(|reason| fail(&reason))?;
        }
        let rests = template
            .parts
            .iter()
            .filter(|part| part.matcher == Matcher::Rest)
            .count();
        match rests {
            0 | 1 => Ok(template),
            _ => Err(fail("`**` may appear only once")),
        }
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The field paths the template's variables set, in order.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    /// How specific the template is: routes with more literal segments and no `**` are tried
    /// first, so `/v1/greet/all` wins over `/v1/greet/{name}`.
    pub fn specificity(&self) -> (bool, usize) {
        let literals = self
            .parts
            .iter()
            .filter(|part| matches!(part.matcher, Matcher::Literal(_)))
            .count();
        let open = self.parts.iter().any(|part| part.matcher == Matcher::Rest);
        (!open, literals)
    }

    /// The variables bound by `path` (no query), as (field path, percent-decoded value), or
    /// `None` if the template does not match.
    pub fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        let path = path.strip_prefix('/')?;
        let path = match &self.verb {
            Some(verb) => path.strip_suffix(verb.as_str())?.strip_suffix(':')?,
            None => path,
        };
        let segments: Vec<&str> = path.split('/').collect();
        let bound = self.bind(&segments)?;
        Some(self.values(&segments, &bound))
    }

    fn push_segment(&mut self, segment: &str) -> Result<(), String> {
        let Some(inner) = segment.strip_prefix('{') else {
            let matcher = matcher(segment)?;
            self.parts.push(Part {
                matcher,
                variable: None,
            });
            return Ok(());
        };
        let inner = inner
            .strip_suffix('}')
            .ok_or_else(|| format!("`{segment}` opens a variable it does not close"))?;
        let (field, pattern) = inner.split_once('=').unwrap_or((inner, "*"));
        if !is_field_path(field) {
            return Err(format!(
                "`{field}` is not a field path (e.g. `name` or `book.id`)"
            ));
        }
        let variable = self.variables.len();
        self.variables.push(field.to_owned());
        for sub in pattern.split('/') {
            if sub.starts_with('{') {
                return Err(format!("variable `{field}` nests another variable"));
            }
            self.parts.push(Part {
                matcher: matcher(sub)?,
                variable: Some(variable),
            });
        }
        Ok(())
    }

    /// Which segments each part consumed: part `i` took `segments[spans[i].0..spans[i].1]`.
    fn bind(&self, segments: &[&str]) -> Option<Vec<(usize, usize)>> {
        let fixed = self.parts.len() - usize::from(self.has_rest());
        if segments.len() < fixed || (!self.has_rest() && segments.len() != fixed) {
            return None;
        }
        let rest = segments.len() - fixed;
        let mut spans = Vec::with_capacity(self.parts.len());
        for part in &self.parts {
            let start = spans.last().map_or(0, |&(_, end)| end);
            match &part.matcher {
                Matcher::Literal(literal) if segments[start] == literal => {
                    spans.push((start, start + 1))
                }
                Matcher::Segment if !segments[start].is_empty() => spans.push((start, start + 1)),
                Matcher::Rest => spans.push((start, start + rest)),
                _ => return None,
            }
        }
        Some(spans)
    }

    fn values(&self, segments: &[&str], spans: &[(usize, usize)]) -> Vec<(String, String)> {
        self.variables
            .iter()
            .enumerate()
            .map(|(variable, field)| {
                let taken: Vec<&str> = self
                    .parts
                    .iter()
                    .zip(spans)
                    .filter(|(part, _)| part.variable == Some(variable))
                    .flat_map(|(_, &(start, end))| segments[start..end].iter().copied())
                    .collect();
                (field.clone(), decode_segments(&taken))
            })
            .collect()
    }

    fn has_rest(&self) -> bool {
        self.parts.iter().any(|p| p.matcher == Matcher::Rest)
    }
}

/// One segment decodes fully; several keep `%2F` encoded so the value's `/`s are the path's
/// (the spec's reserved expansion).
fn decode_segments(segments: &[&str]) -> String {
    match segments {
        [one] => percent_decode_str(one).decode_utf8_lossy().into_owned(),
        many => many
            .iter()
            .map(|segment| {
                segment
                    .split("%2F")
                    .flat_map(|piece| piece.split("%2f"))
                    .map(|piece| percent_decode_str(piece).decode_utf8_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("%2F")
            })
            .collect::<Vec<_>>()
            .join("/"),
    }
}

fn matcher(segment: &str) -> Result<Matcher, String> {
    match segment {
        "*" => Ok(Matcher::Segment),
        "**" => Ok(Matcher::Rest),
        "" => Err("it has an empty segment (`//` or a trailing `/`)".to_owned()),
        literal if literal.contains(['{', '}', '=', ':']) => {
            Err(format!("`{literal}` is not a literal segment"))
        }
        literal => Ok(Matcher::Literal(literal.to_owned())),
    }
}

fn is_field_path(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|ident| {
            ident
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && ident.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// Splits `path:verb` at the verb's `:`, which follows the last `/` outside braces.
fn split_verb(path: &str) -> (&str, Option<&str>) {
    let mut depth = 0_i32;
    let mut colon = None;
    for (index, c) in path.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            '/' if depth == 0 => colon = None,
            ':' if depth == 0 => colon = Some(index),
            _ => {}
        }
    }
    match colon {
        Some(index) => (&path[..index], Some(&path[index + 1..])),
        None => (path, None),
    }
}

/// Splits at the `/`s outside braces.
fn split_top_level(path: &str) -> Result<Vec<&str>, String> {
    let mut segments = Vec::new();
    let (mut depth, mut start) = (0_i32, 0);
    for (index, c) in path.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            '/' if depth == 0 => {
                segments.push(&path[start..index]);
                start = index + 1;
            }
            _ => {}
        }
        if !(0..=1).contains(&depth) {
            return Err("its braces do not balance".to_owned());
        }
    }
    if depth != 0 {
        return Err("its braces do not balance".to_owned());
    }
    segments.push(&path[start..]);
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(template: &str, path: &str) -> Option<Vec<(String, String)>> {
        Template::parse(template).unwrap().matches(path)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_variable_binds_one_segment() {
        assert_eq!(
            bound("/v1/greet/{name}", "/v1/greet/alice"),
            Some(pairs(&[("name", "alice")]))
        );
        assert_eq!(bound("/v1/greet/{name}", "/v1/greet/alice/x"), None);
        assert_eq!(bound("/v1/greet/{name}", "/v1/greet/"), None);
        assert_eq!(bound("/v1/greet/{name}", "/v1/greet"), None);
        assert_eq!(bound("/v1/greet/{name}", "/v2/greet/alice"), None);
    }

    #[test]
    fn literals_must_match_exactly() {
        assert_eq!(bound("/v1/greet", "/v1/greet"), Some(vec![]));
        assert_eq!(bound("/v1/greet", "/v1/greets"), None);
        assert_eq!(bound("/v1/greet", "/v1/greet/"), None);
    }

    #[test]
    fn values_are_percent_decoded() {
        assert_eq!(
            bound("/v1/greet/{name}", "/v1/greet/al%20ice%2Fx"),
            Some(pairs(&[("name", "al ice/x")]))
        );
    }

    #[test]
    fn variables_with_patterns_and_nested_fields() {
        assert_eq!(
            bound("/v1/{book.name=shelves/*/books/*}", "/v1/shelves/1/books/2"),
            Some(pairs(&[("book.name", "shelves/1/books/2")]))
        );
        assert_eq!(
            bound("/v1/{book.name=shelves/*/books/*}", "/v1/shelves/1/notes/2"),
            None
        );
        assert_eq!(
            bound("/v1/shelves/{shelf}/books/{book}", "/v1/shelves/s/books/b"),
            Some(pairs(&[("shelf", "s"), ("book", "b")]))
        );
    }

    #[test]
    fn double_wildcard_takes_the_rest() {
        assert_eq!(
            bound("/files/{path=**}", "/files/a/b%2Fc/d"),
            Some(pairs(&[("path", "a/b%2Fc/d")]))
        );
        assert_eq!(
            bound("/files/{path=**}", "/files"),
            Some(pairs(&[("path", "")]))
        );
        assert_eq!(bound("/static/**", "/static/x/y"), Some(vec![]));
    }

    #[test]
    fn double_wildcard_leaves_the_segments_after_it() {
        // Firestore's ListDocuments.
        let template = "/v1/{parent=projects/*/databases/*/documents/*/**}/{collection_id}";
        assert_eq!(
            bound(
                template,
                "/v1/projects/p/databases/d/documents/rooms/r1/messages"
            ),
            Some(pairs(&[
                ("parent", "projects/p/databases/d/documents/rooms/r1"),
                ("collection_id", "messages")
            ]))
        );
        assert_eq!(
            bound(
                template,
                "/v1/projects/p/databases/d/documents/rooms/messages"
            ),
            Some(pairs(&[
                ("parent", "projects/p/databases/d/documents/rooms"),
                ("collection_id", "messages")
            ]))
        );
        assert_eq!(
            bound(template, "/v1/projects/p/databases/d/documents/rooms"),
            None
        );
        assert_eq!(
            bound("/a/**/b/{id}", "/a/x/y/b/7"),
            Some(pairs(&[("id", "7")]))
        );
        assert_eq!(bound("/a/**/b/{id}", "/a/x/y/c/7"), None);
    }

    #[test]
    fn verbs_follow_a_colon() {
        assert_eq!(
            bound("/v1/{name}:publish", "/v1/books:publish"),
            Some(pairs(&[("name", "books")]))
        );
        assert_eq!(bound("/v1/{name}:publish", "/v1/books"), None);
        assert_eq!(bound("/v1/{name}:publish", "/v1/books:cancel"), None);
        assert_eq!(
            Template::parse("/v1/{name=a/*}:undo")
                .unwrap()
                .verb
                .as_deref(),
            Some("undo")
        );
    }

    #[test]
    fn bad_templates_say_why() {
        for (template, reason) in [
            ("v1/x", "start with `/`"),
            ("/v1/{name", "braces"),
            ("/v1//x", "empty segment"),
            ("/v1/{}", "field path"),
            ("/v1/{a={b}}", "braces"),
            ("/**/x/**", "`**` may appear only once"),
            ("/v1/{1x}", "field path"),
        ] {
            let err = Template::parse(template).unwrap_err().to_string();
            assert!(err.contains(reason), "{template}: {err}");
            assert!(err.contains(template), "{err}");
        }
    }

    #[test]
    fn literal_routes_are_more_specific() {
        let literal = Template::parse("/v1/greet/all").unwrap();
        let variable = Template::parse("/v1/greet/{name}").unwrap();
        let rest = Template::parse("/v1/{path=**}").unwrap();
        assert!(literal.specificity() > variable.specificity());
        assert!(variable.specificity() > rest.specificity());
    }
}
