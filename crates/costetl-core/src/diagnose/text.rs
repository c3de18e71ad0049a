//! Small text helpers for details: counts with thousands separators,
//! short lists, a series' value.

use crate::promjson::Series;

/// `1234.0` → `1,234`.
pub(super) fn count(v: f64) -> String {
    let n = if v.is_finite() && v > 0.0 {
        v.round() as u64
    } else {
        0
    };
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The first `max` items and how many more there are.
pub(super) fn list(items: &[String], max: usize) -> String {
    let mut s = items
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        s.push_str(&format!(" and {} more", items.len() - max));
    }
    s
}

pub(super) fn value(s: &Series) -> f64 {
    s.last_value().filter(|v| v.is_finite()).unwrap_or(0.0)
}
