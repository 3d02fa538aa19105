//! Prometheus' text exposition format (version 0.0.4), read just enough for the counters
//! a gateway exports on its own `/metrics`: `name{label="value",...} value [timestamp]`.
//!
//! Comments (`# HELP`, `# TYPE`) and blank lines are skipped; label values may hold
//! escaped quotes, backslashes and newlines; values may be `NaN` or `±Inf`. A line that
//! does not parse is an error naming its number, not a silent zero.

use std::collections::BTreeMap;

/// One sample: its labels and value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Label name -> value.
    pub labels: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
}

/// A line that is not in the exposition format.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line} of the metrics is not in Prometheus' text format: {text}")]
pub struct ExpositionError {
    /// 1-based line number.
    pub line: usize,
    /// The start of the line.
    pub text: String,
}

/// The samples of metric `name` in `text`.
pub fn samples(text: &str, name: &str) -> Result<Vec<Sample>, ExpositionError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || ExpositionError {
            line: i + 1,
            text: line.chars().take(80).collect(),
        };
        let end = line.find(['{', ' ', '\t']).ok_or_else(bad)?;
        if &line[..end] != name {
            continue;
        }
        let mut rest = &line[end..];
        let mut labels = BTreeMap::new();
        if let Some(after) = rest.strip_prefix('{') {
            let (parsed, tail) = parse_labels(after).ok_or_else(bad)?;
            labels = parsed;
            rest = tail;
        }
        let value = rest.split_whitespace().next().ok_or_else(bad)?;
        let value = match value {
            "+Inf" | "Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().map_err(|_| bad())?,
        };
        out.push(Sample { labels, value });
    }
    Ok(out)
}

/// Reads `a="x",b="y"}` and returns the labels and what follows the `}`.
fn parse_labels(mut s: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    loop {
        s = s.trim_start();
        if let Some(tail) = s.strip_prefix('}') {
            return Some((labels, tail));
        }
        let eq = s.find('=')?;
        let key = s[..eq].trim().to_owned();
        s = s[eq + 1..].trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let close = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(key, value);
        s = s[close + 1..].trim_start();
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_labels_escapes_and_special_values() {
        let text = "# HELP x_total Things.\n# TYPE x_total counter\n\
            x_total{code=\"200\",service=\"web@file\"} 12\n\
            x_total{code=\"502\",path=\"a\\\"b\\\\c\",} 3 1700000000000\n\
            x_total 7\n\
            x_total_other{code=\"200\"} 99\n\
            y NaN\n";
        let got = samples(text, "x_total").expect("parse");
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].labels["service"], "web@file");
        assert!((got[0].value - 12.0).abs() < f64::EPSILON);
        assert_eq!(got[1].labels["path"], "a\"b\\c");
        assert!((got[1].value - 3.0).abs() < f64::EPSILON);
        assert!(got[2].labels.is_empty());
        assert!(samples(text, "y").expect("parse")[0].value.is_nan());
        assert!(
            samples("z +Inf", "z").expect("parse")[0]
                .value
                .is_infinite()
        );
    }

    #[test]
    fn garbage_names_its_line() {
        let err = samples("ok 1\nx_total{code=\"200\" 5\n", "x_total").expect_err("bad");
        assert_eq!(err.line, 2);
        assert!(samples("x_total{code=\"200\"} many", "x_total").is_err());
        assert_eq!(
            samples("<html>", "x_total"),
            Err(ExpositionError {
                line: 1,
                text: "<html>".into()
            })
        );
    }

    #[test]
    fn upstream_traefik_metrics_parse() {
        let text = include_str!("../../tests/fixtures/traefik/metrics-rig.txt");
        let got = samples(text, "traefik_service_requests_total").expect("parse");
        assert!(
            got.iter()
                .any(|s| s.labels.get("code").is_some_and(|c| c == "502"))
        );
    }
}
