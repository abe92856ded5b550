#![no_main]
//! The gateway's google.api.http path templates (`/v1/{name=shelves/*}/books:publish`), parsed
//! from annotations and matched against every request path (`micro::http_rule::Template`).
//!
//! Input: a template, a newline, then a request path.
//! Invariants: no panic; a template that parses matches a path made from it (each `*` and
//! variable filled with a segment, `**` with two) and binds every variable it names.

use libfuzzer_sys::fuzz_target;
use micro::http_rule::Template;

/// A path `template` should match: wildcards filled in, variables given their pattern (or one
/// segment), the verb kept.
fn example(template: &str) -> String {
    let mut path = String::new();
    let mut chars = template.chars().peekable();
    // Whether the next character starts a segment: `*` and `**` are wildcards only as a whole
    // segment; inside a literal (`h*llo`) they are literal.
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match c {
            '{' => {
                let mut inner = String::new();
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                    inner.push(c);
                }
                match inner.split_once('=') {
                    Some((_, pattern)) => path.push_str(&example(pattern)),
                    None => path.push('v'),
                }
            }
            '*' if at_start => {
                let double = chars.peek() == Some(&'*');
                if double {
                    chars.next();
                }
                match chars.peek() {
                    None | Some('/') => path.push_str(if double { "a/b" } else { "a" }),
                    Some(_) if double => path.push_str("**"),
                    Some(_) => path.push('*'),
                }
            }
            c => path.push(c),
        }
        at_start = c == '/';
    }
    path
}

/// Where the verb's `:` is: the last one outside braces after the last `/` outside braces.
fn verb_at(template: &str) -> Option<usize> {
    let (mut depth, mut colon) = (0_i32, None);
    for (index, c) in template.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            '/' if depth == 0 => colon = None,
            ':' if depth == 0 => colon = Some(index),
            _ => {}
        }
    }
    colon
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (template, path) = text.split_once('\n').unwrap_or((&text, "/"));
    let Ok(parsed) = Template::parse(template) else {
        return;
    };
    let _ = parsed.matches(path);
    let _ = parsed.specificity();
    // Percent signs, queries and fragments in literals describe paths in their own way.
    if template.contains(['%', '?', '#']) {
        return;
    }
    let (segments, verb) = template.split_at(verb_at(template).unwrap_or(template.len()));
    let made = format!("{}{verb}", example(segments));
    let Some(bound) = parsed.matches(&made) else {
        panic!("{template} does not match {made}, a path made from it");
    };
    // Braces in a verb (`:b{x}`) are literal: only the segments name variables.
    let names = segments.matches('{').count();
    assert_eq!(bound.len(), names, "{template} on {made} bound {bound:?}");
});
