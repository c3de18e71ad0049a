//! `costetl mock`: OpenCost's mock allocation sets as an OpenCost
//! `/allocation` response file, for fixtures and demos.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{TimeDelta, TimeZone, Utc};
use clap::Args;
use costetl_core::json::response_to_string;
use costetl_core::testing::mock_set_cluster_idle;

/// Flags of `costetl mock`.
#[derive(Debug, Args)]
pub struct MockArgs {
    /// File to write (parent directories are created).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,

    /// Number of consecutive days, starting 2021-01-01 UTC.
    #[arg(long, value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..=3660))]
    pub days: u32,
}

/// `costetl mock`.
pub fn run(args: &MockArgs) -> Result<()> {
    let text = mock_response(args.days);
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::write(&args.out, text).with_context(|| format!("writing {}", args.out.display()))
}

/// `days` days of OpenCost's mock set with cluster idle, from 2021-01-01,
/// as a pretty-printed response in OpenCost's field order.
pub fn mock_response(days: u32) -> String {
    let start = Utc
        .with_ymd_and_hms(2021, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let sets: Vec<_> = (0..days)
        .map(|d| mock_set_cluster_idle(start + TimeDelta::days(i64::from(d))))
        .collect();
    let mut s = pretty(&response_to_string(&sets));
    s.push('\n');
    s
}

/// Re-indent compact JSON with two spaces, keeping key order (which
/// `serde_json::Value` would sort). Input must be compact valid JSON, as
/// `costetl_core::json` writes it.
pub fn pretty(compact: &str) -> String {
    let mut out = String::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    let mut chars = compact.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n("  ", depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                // Keep empty containers on one line.
                if chars.peek().is_some_and(|&n| n == '}' || n == ']') {
                    out.extend(chars.next());
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn pretty_keeps_meaning_and_matches_serde_layout() {
        let compact = r#"{"b":[1,{"x":"a,b:{\"}\\"}],"a":{},"c":[],"d":null}"#;
        let p = pretty(compact);
        let v: Value = serde_json::from_str(&p).unwrap();
        assert_eq!(v, serde_json::from_str::<Value>(compact).unwrap());
        // Same layout as serde_json's pretty printer (which sorts keys; these
        // are already sorted apart from "b", so compare a sorted document).
        let sorted = r#"{"a":{},"b":[1,{"x":"a,b:{\"}\\"}],"c":[],"d":null}"#;
        let v: Value = serde_json::from_str(sorted).unwrap();
        assert_eq!(pretty(sorted), serde_json::to_string_pretty(&v).unwrap());
    }

    #[test]
    fn mock_reads_back() {
        let text = mock_response(2);
        let v: Value = serde_json::from_str(&text).unwrap();
        let sets = costetl_core::json::response_from_value(&v).unwrap();
        assert_eq!(sets.len(), 2);
        assert!(sets.iter().all(|s| s.len() == 14));
        assert!((sets[0].total_cost() - 112.0).abs() < 1e-9);
    }
}
