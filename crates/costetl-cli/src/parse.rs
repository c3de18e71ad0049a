//! The flag values several commands share, parsed once: windows, times
//! and durations. Each returns the message clap shows (a usage error,
//! exit 2).

use chrono::{DateTime, TimeDelta, Utc};
use costetl_core::Window;

/// A window flag: OpenCost's syntax, and not empty (`T,T` selects
/// nothing and computes nothing). Relative windows (`yesterday`) are read
/// against the clock: the CLI is the one place that reads it.
pub(crate) fn window(s: &str) -> Result<Window, String> {
    let w = Window::parse_utc(s, Utc::now()).map_err(|e| e.to_string())?;
    if w.start() == w.end() {
        return Err(format!("{w} is empty: its start is its end"));
    }
    Ok(w)
}

/// A time: RFC 3339 or Unix seconds.
pub(crate) fn time(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .and_then(|v| DateTime::<Utc>::from_timestamp_millis((v * 1000.0).round() as i64))
        .ok_or_else(|| format!("{s:?}: expected RFC 3339 (2023-11-14T02:00:00Z) or Unix seconds"))
}

/// A positive duration (`30s`, `5m`, `1h30m`, `2d`).
pub(crate) fn positive(s: &str) -> Result<TimeDelta, String> {
    let d = costetl_prom::parse_duration(s)?;
    let d = TimeDelta::from_std(d).map_err(|_| format!("{s:?} is too long"))?;
    if d <= TimeDelta::zero() {
        return Err(format!("{s:?}: must be positive"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let t = time("2023-11-14T02:00:00Z").unwrap();
        assert_eq!(time("1699927200"), Ok(t));
        assert!(time("yesterday").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(positive("90m"), Ok(TimeDelta::minutes(90)));
        assert_eq!(positive("2d"), Ok(TimeDelta::days(2)));
        assert_eq!(positive("1h30m"), Ok(TimeDelta::minutes(90)));
        assert!(positive("0h").is_err());
        assert!(positive("h").is_err());
    }

    #[test]
    fn windows() {
        assert!(window("2023-11-14T00:00:00Z,2023-11-15T00:00:00Z").is_ok());
        let e = window("2023-11-14T00:00:00Z,2023-11-14T00:00:00Z").unwrap_err();
        assert!(e.contains("is empty"), "{e}");
        assert!(window("tomorrowish").is_err());
    }
}
