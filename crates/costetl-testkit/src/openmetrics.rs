//! A light scan of OpenMetrics test input: enough to validate timestamps
//! and to know how many samples the server must end up holding.
//!
//! Not a full parser: promtool and VictoriaMetrics do the real parsing and
//! report syntax errors themselves.

use crate::TestkitError;

/// Timestamps at or beyond this many seconds are taken for milliseconds.
///
/// 2^31 s is 2038-01-19. VictoriaMetrics' import uses the same cut-off to
/// decide between seconds and milliseconds, while promtool always assumes
/// seconds; rejecting such input keeps the two backends in agreement.
const MAX_SECONDS: f64 = 2_147_483_648.0;

/// What the input holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Sample lines.
    pub samples: u64,
    /// Sample lines whose value is NaN. VictoriaMetrics drops these on
    /// ingestion; Prometheus keeps them.
    pub nan_samples: u64,
    /// Earliest timestamp, milliseconds.
    pub min_ms: i64,
    /// Latest timestamp, milliseconds.
    pub max_ms: i64,
    /// Metric names, in order of first appearance.
    pub names: Vec<String>,
}

impl Summary {
    /// A PromQL/MetricsQL query counting every stored sample of the input's
    /// time range. Evaluate it at [`Summary::end_secs`].
    ///
    /// The range runs from one second before the first sample to one second
    /// after the last, so that it holds every sample whether the backend's
    /// range is left-open (VictoriaMetrics) or closed (Prometheus 2.x).
    ///
    /// One `count_over_time` per metric name, summed: a single selector over
    /// all names would drop `__name__` and fail on two families whose other
    /// labels coincide ("vector cannot contain metrics with the same
    /// labelset").
    pub fn count_query(&self) -> String {
        let range_ms = self.end_ms() - self.min_ms + 1000;
        let at = self.end_secs();
        self.names
            .iter()
            .map(|n| format!(r#"(sum(count_over_time({{__name__="{n}"}}[{range_ms}ms] @ {at})) or vector(0))"#))
            .collect::<Vec<_>>()
            .join(" + ")
    }

    /// When to evaluate [`Summary::count_query`]: one second after the last
    /// sample, in seconds.
    pub fn end_secs(&self) -> String {
        // f64's Display is the shortest exact round trip, so whole seconds
        // print without a fraction and milliseconds stay exact.
        (self.end_ms() as f64 / 1000.0).to_string()
    }

    /// One second after the last sample, not the last sample itself:
    /// VictoriaMetrics 1.79 does not see a series in a query evaluated at
    /// exactly its first sample's timestamp, so a series with a single
    /// sample at the input's end would be missed.
    fn end_ms(&self) -> i64 {
        self.max_ms + 1000
    }
}

/// Scans `text`, checking that every sample has a plausible timestamp in
/// seconds.
pub(crate) fn scan(text: &str) -> Result<Summary, TestkitError> {
    let mut summary: Option<Summary> = None;
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = line.trim();
        if line == "# EOF" {
            break;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let invalid = |why: &str| TestkitError::InvalidInput {
            reason: format!("line {line_no}: {why}: {line:?}"),
        };
        let rest = &line[series_end(line).ok_or_else(|| invalid("unterminated label set"))?..];
        let mut fields = rest.split_whitespace();
        let value = fields.next().ok_or_else(|| invalid("no value"))?;
        let ts = match fields.next() {
            Some(ts) if ts != "#" => ts,
            _ => {
                return Err(invalid(
                    "no timestamp; backfilling needs an explicit timestamp on every sample",
                ));
            }
        };
        let secs: f64 = ts
            .parse()
            .map_err(|_| invalid("timestamp is not a number"))?;
        if !secs.is_finite() || secs.abs() >= MAX_SECONDS {
            return Err(invalid(
                "timestamp is not in seconds (OpenMetrics timestamps are Unix seconds; \
                 this looks like milliseconds)",
            ));
        }
        let ms = (secs * 1000.0).round() as i64;
        let nan = u64::from(value.eq_ignore_ascii_case("nan"));
        let name_end = line
            .find(|c: char| c == '{' || c.is_ascii_whitespace())
            .unwrap_or(line.len());
        let name = &line[..name_end];
        let s = summary.get_or_insert_with(|| Summary {
            samples: 0,
            nan_samples: 0,
            min_ms: ms,
            max_ms: ms,
            names: Vec::new(),
        });
        s.samples += 1;
        s.nan_samples += nan;
        s.min_ms = s.min_ms.min(ms);
        s.max_ms = s.max_ms.max(ms);
        // Families are contiguous in OpenMetrics, so the last name is the
        // one to compare with; the list check covers interleaved input.
        if s.names.last().map(String::as_str) != Some(name) && !s.names.iter().any(|n| n == name) {
            s.names.push(name.to_owned());
        }
    }
    summary.ok_or_else(|| TestkitError::InvalidInput {
        reason: "no samples".to_owned(),
    })
}

/// Byte offset just past the series (`name` or `name{labels}`) of a sample
/// line, or `None` if the label set never closes.
fn series_end(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let name_end = bytes
        .iter()
        .position(|&b| b == b'{' || b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    if bytes.get(name_end) != Some(&b'{') {
        return Some(name_end);
    }
    // Label values may hold `}`, spaces and escaped quotes.
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate().skip(name_end + 1) {
        match (in_quotes, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (_, _, b'"') => in_quotes = !in_quotes,
            (false, _, b'}') => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// `text` with the `# EOF` terminator promtool insists on.
pub(crate) fn with_eof(text: &str) -> String {
    let has_eof = text.lines().any(|l| l.trim() == "# EOF");
    let mut out = text.to_owned();
    if !has_eof {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str("# EOF\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_samples_and_range() {
        let text = r#"# HELP m help with } and "quotes"
# TYPE m gauge
m{a="x } y",b="say \"hi\" }"} 1 1699920000
m 2 1699920060.5
n{} NaN 1699919999
# EOF
after 1 5
"#;
        let s = scan(text).unwrap();
        assert_eq!(
            s,
            Summary {
                samples: 3,
                nan_samples: 1,
                min_ms: 1_699_919_999_000,
                max_ms: 1_699_920_060_500,
                names: vec!["m".to_owned(), "n".to_owned()],
            }
        );
        assert_eq!(s.end_secs(), "1699920061.5");
        assert_eq!(
            s.count_query(),
            r#"(sum(count_over_time({__name__="m"}[63500ms] @ 1699920061.5)) or vector(0)) + (sum(count_over_time({__name__="n"}[63500ms] @ 1699920061.5)) or vector(0))"#
        );
    }

    #[test]
    fn rejects_unusable_input() {
        let err = |t: &str| scan(t).unwrap_err().to_string();
        assert!(err("m 1\n").contains("no timestamp"), "{}", err("m 1\n"));
        assert!(err("m 1 # {t=\"x\"} 1\n").contains("no timestamp"));
        assert!(err("m 1 1699920000000\n").contains("milliseconds"));
        assert!(err("m{a=\"x\" 1 1699920000\n").contains("unterminated"));
        assert!(err("m{} 1 soon\n").contains("not a number"));
        assert!(err("# only comments\n# EOF\n").contains("no samples"));
        assert!(scan("m 1 1699920000\n").is_ok());
    }

    #[test]
    fn adds_eof_once() {
        assert_eq!(with_eof("m 1 1"), "m 1 1\n# EOF\n");
        assert_eq!(with_eof("m 1 1\n"), "m 1 1\n# EOF\n");
        assert_eq!(with_eof("m 1 1\n# EOF\n"), "m 1 1\n# EOF\n");
    }
}
