//! A parser for the Prometheus text exposition format (0.0.4): the samples a node serves at
//! `GET /metrics`. Comments, `# HELP` and `# TYPE` lines are skipped; timestamps are ignored.

use std::collections::BTreeMap;

/// One sample: a series name, its labels and its value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    pub(crate) name: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) value: f64,
}

impl Sample {
    /// The value of label `name`, or `""` when the sample has none.
    pub(crate) fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }
}

/// Parses a whole exposition; a malformed line is an error naming its line number.
pub(crate) fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let sample = parse_line(line)
            .map_err(|problem| format!("line {}: {problem}: `{line}`", index + 1))?;
        samples.push(sample);
    }
    Ok(samples)
}

fn parse_line(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .ok_or("no value after the series name")?;
    let name = &line[..name_end];
    if name.is_empty() {
        return Err("no series name".into());
    }
    let (labels, rest) = if line[name_end..].starts_with('{') {
        parse_labels(&line[name_end + 1..])?
    } else {
        (BTreeMap::new(), &line[name_end..])
    };
    let value = rest.split_whitespace().next().ok_or("no value")?;
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value: parse_value(value)?,
    })
}

/// Reads `key="value",…}` and returns the labels and what follows the `}`.
fn parse_labels(mut text: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    loop {
        text = text.trim_start_matches([' ', ',']);
        if let Some(rest) = text.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let (key, rest) = text.split_once('=').ok_or("a label without `=`")?;
        let rest = rest
            .trim_start()
            .strip_prefix('"')
            .ok_or("a label value without quotes")?;
        let (value, rest) = quoted(rest)?;
        labels.insert(key.trim().to_owned(), value);
        text = rest;
    }
}

/// Reads an escaped label value up to its closing quote; returns it and what follows.
fn quoted(text: &str) -> Result<(String, &str), String> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((index, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &text[index + 1..])),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('n') => value.push('\n'),
                Some(escaped) => value.push(escaped),
                None => break,
            },
            c => value.push(c),
        }
    }
    Err("an unterminated label value".into())
}

fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        text => text
            .parse()
            .map_err(|_| format!("`{text}` is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPOSITION: &str = r#"# HELP micro_request_total Calls served, by endpoint and status.
# TYPE micro_request_total counter
micro_request_total{endpoint="Helloworld.Greeting",service="helloworld",status="OK"} 3
micro_request_total{endpoint="Helloworld.Greeting",service="helloworld",status="NotFound"} 1
micro_request_duration_seconds_bucket{endpoint="Helloworld.Greeting",service="helloworld",status="OK",le="+Inf"} 3
micro_request_duration_seconds_sum{endpoint="Helloworld.Greeting",service="helloworld",status="OK"} 0.0015
process_start_time_seconds 1.7e9 1700000000000
"#;

    #[test]
    fn reads_names_labels_and_values() {
        let samples = parse(EXPOSITION).unwrap();
        assert_eq!(samples.len(), 5);
        assert_eq!(samples[0].name, "micro_request_total");
        assert_eq!(samples[0].label("endpoint"), "Helloworld.Greeting");
        assert_eq!(samples[0].label("status"), "OK");
        assert_eq!(samples[0].value, 3.0);
        assert_eq!(samples[1].label("status"), "NotFound");
        assert_eq!(samples[2].label("le"), "+Inf");
        assert_eq!(samples[3].value, 0.0015);
    }

    #[test]
    fn ignores_timestamps_and_reads_samples_without_labels() {
        let samples = parse(EXPOSITION).unwrap();
        let last = samples.last().unwrap();
        assert_eq!(last.name, "process_start_time_seconds");
        assert!(last.labels.is_empty());
        assert_eq!(last.value, 1.7e9);
        assert_eq!(last.label("missing"), "");
    }

    #[test]
    fn unescapes_label_values() {
        let samples = parse(r#"m{a="x\"y",b="back\\slash",c="line\nbreak",d="a,}b"} 1"#).unwrap();
        let labels = &samples[0].labels;
        assert_eq!(labels["a"], "x\"y");
        assert_eq!(labels["b"], "back\\slash");
        assert_eq!(labels["c"], "line\nbreak");
        assert_eq!(labels["d"], "a,}b");
    }

    #[test]
    fn reads_special_values_and_empty_label_sets() {
        let samples = parse("a{} +Inf\nb -Inf\nc NaN\nd{x=\"1\",} 2").unwrap();
        assert_eq!(samples[0].value, f64::INFINITY);
        assert_eq!(samples[1].value, f64::NEG_INFINITY);
        assert!(samples[2].value.is_nan());
        assert_eq!(samples[3].label("x"), "1");
    }

    #[test]
    fn malformed_lines_are_errors_naming_the_line() {
        let error = parse("ok 1\nbad{a=\"1\"} x").unwrap_err();
        assert!(error.contains("line 2"), "{error}");
        assert!(error.contains("`x` is not a number"), "{error}");
        assert!(parse("m{a=\"1} 2").unwrap_err().contains("unterminated"));
        assert!(parse("m{a=1} 2").unwrap_err().contains("without quotes"));
        assert!(parse("lonely").unwrap_err().contains("no value"));
    }
}
