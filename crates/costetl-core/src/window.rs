//! Time windows: half-open UTC ranges, calendar periods, and the parser for
//! OpenCost's window strings (`today`, `7d`, `24h offset 1h`, `<unix>,<unix>`,
//! ...).
//!
//! A [`Window`] is what every allocation, query and ETL file is keyed by.
//! It is always stored in UTC; the configured UTC offset (OpenCost's
//! `UTC_OFFSET`) only matters while *parsing* relative windows, where "today"
//! and "this week" start at midnight in that offset. That is why
//! [`Window::parse`] takes `now` as a [`DateTime<FixedOffset>`]: the caller
//! reads the clock and picks the offset, this module never does either.
//!
//! The semantics follow OpenCost's `core/pkg/opencost/window.go`, with its
//! known bugs fixed (each fix is called out where it happens).

use std::fmt;

use chrono::{
    DateTime, Datelike, Days, FixedOffset, Months, NaiveDate, NaiveDateTime, NaiveTime,
    SecondsFormat, TimeDelta, TimeZone, Timelike, Utc,
};

use crate::{Error, Result};

/// The reason given for any window string that matches none of the forms.
const EXPECTED: &str = "expected one of today, yesterday, week, lastweek, month, lastmonth, \
                        <N>(m|h|d|w), <N><unit> offset <M><unit>, <unix>,<unix> or \
                        <RFC3339>,<RFC3339>";
const NUMBER_TOO_LARGE: &str = "number too large";
const DURATION_TOO_LARGE: &str = "duration too large";
const OUT_OF_RANGE: &str = "time out of range";
const NOT_POSITIVE: &str = "duration must be positive";
const REVERSED: &str = "end is before start";

const MINUTE: TimeDelta = TimeDelta::minutes(1);
const HOUR: TimeDelta = TimeDelta::hours(1);
const DAY: TimeDelta = TimeDelta::days(1);
const WEEK: TimeDelta = TimeDelta::weeks(1);
const NANOS_PER_SEC: i128 = 1_000_000_000;

/// Half-open `[start, end)` range in UTC. Invariant: `start <= end`.
///
/// Ordering compares `start` first, then `end`, so sorting windows sorts
/// them chronologically.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Window {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl Window {
    /// Builds the window `[start, end)`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidWindow`] if `end < start`; its `input` is
    /// `"<start>,<end>"` in RFC 3339. `start == end` is allowed and gives an
    /// empty window.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Window> {
        if end < start {
            return Err(Error::InvalidWindow {
                input: format!(
                    "{},{}",
                    start.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                    end.to_rfc3339_opts(SecondsFormat::AutoSi, true)
                ),
                reason: REVERSED.to_owned(),
            });
        }
        Ok(Window { start, end })
    }

    /// Parses an OpenCost window string relative to `now`.
    ///
    /// `now`'s offset is the configured UTC offset: `today`, `week`, `<N>d`
    /// and the like start at midnight in that offset. The result is in UTC.
    /// Surrounding whitespace is ignored and keywords (including `offset`)
    /// are case-insensitive; unit letters must be lowercase, as in OpenCost,
    /// because `M` would read as "month" to some and "minute" to others.
    ///
    /// | form | window |
    /// |---|---|
    /// | `today` | `[midnight today, +24h)` |
    /// | `yesterday` | `[midnight today − 24h, midnight today)` |
    /// | `week` | `[Sunday 00:00 of this week, now)` |
    /// | `lastweek` | `[previous Sunday 00:00, this Sunday 00:00)` |
    /// | `month` | `[1st of this month 00:00, now)` |
    /// | `lastmonth` | `[1st of last month 00:00, 1st of this month 00:00)` |
    /// | `<N>m`, `<N>h`, `<N>d` | ends at the end of the current minute/hour/day, lasts N units |
    /// | `<N>w` | ends at midnight tonight, lasts N weeks |
    /// | `<N><u> offset <M><u>` | ends exactly M units before now, lasts N units, no rounding |
    /// | `<unix>,<unix>` | Unix seconds |
    /// | `<RFC3339>,<RFC3339>` | any RFC 3339 offset |
    ///
    /// `<N>` forms end in the future on purpose: "the past 7 days" means
    /// today in full plus the 6 days before, as in OpenCost.
    ///
    /// Deviations from OpenCost, all deliberate:
    /// - midnights are computed in `now`'s offset directly; OpenCost
    ///   truncates in UTC and then shifts, which lands on the *next* local
    ///   midnight for part of each day;
    /// - a `w` offset is exactly 7 days (OpenCost multiplies it by 24);
    /// - RFC 3339 pairs may use any offset, not only `Z`;
    /// - `N` must be positive (`0h` is an error), overflow is an error, and
    ///   reversed pairs are an error instead of a silently odd window.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidWindow`] with `input` set to `s` if the string matches
    /// none of the forms, a number or the resulting time is out of range, a
    /// duration is zero, or a pair ends before it starts.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{DateTime, FixedOffset};
    /// use costetl_core::Window;
    ///
    /// let now: DateTime<FixedOffset> = "2024-05-03T01:30:00-07:00".parse().unwrap();
    /// let w = Window::parse("today", now).unwrap();
    /// assert_eq!(w.to_string(), "[2024-05-03T07:00:00Z, 2024-05-04T07:00:00Z)");
    /// ```
    pub fn parse(s: &str, now: DateTime<FixedOffset>) -> Result<Window> {
        parse_inner(s.trim(), now).map_err(|reason| Error::InvalidWindow {
            input: s.to_owned(),
            reason: reason.to_owned(),
        })
    }

    /// [`Window::parse`] with the UTC offset `+00:00`.
    ///
    /// # Errors
    ///
    /// As [`Window::parse`].
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{DateTime, Utc};
    /// use costetl_core::Window;
    ///
    /// let now: DateTime<Utc> = "2024-05-03T08:01:04Z".parse().unwrap();
    /// let w = Window::parse_utc("2h", now).unwrap();
    /// assert_eq!(w.to_string(), "[2024-05-03T07:00:00Z, 2024-05-03T09:00:00Z)");
    /// ```
    pub fn parse_utc(s: &str, now: DateTime<Utc>) -> Result<Window> {
        Window::parse(s, now.fixed_offset())
    }

    /// The inclusive start.
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// The exclusive end.
    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }

    /// `end - start`; never negative.
    pub fn duration(&self) -> TimeDelta {
        // Cannot overflow: TimeDelta spans far more than chrono's date range.
        self.end - self.start
    }

    /// The length in minutes, fractional, at nanosecond precision.
    pub fn minutes(&self) -> f64 {
        self.duration().as_seconds_f64() / 60.0
    }

    /// The length in hours, fractional, at nanosecond precision.
    pub fn hours(&self) -> f64 {
        self.duration().as_seconds_f64() / 3600.0
    }

    /// Whether the window has zero length (`start == end`).
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Whether `t` lies in `[start, end)`.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    /// The intersection of the two windows, or `None` if it has no positive
    /// length (disjoint, merely touching, or either window empty).
    pub fn overlap(&self, other: &Window) -> Option<Window> {
        let start = self.start.max(other.start);
        let end = self.end.min(other.end);
        (start < end).then_some(Window { start, end })
    }

    /// The smallest window covering both (earliest start, latest end),
    /// including any gap between them.
    pub fn expand(&self, other: &Window) -> Window {
        Window {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The fraction of `item` that lies inside `self`, in `[0, 1]`; 0 if
    /// `item` is empty.
    ///
    /// This is OpenCost's `GetPercentInWindow`, used to spread an item's cost
    /// over the windows it spans.
    pub fn percent_in_window(&self, item: &Window) -> f64 {
        if item.is_empty() {
            return 0.0;
        }
        self.overlap(item).map_or(0.0, |o| o.minutes()) / item.minutes()
    }

    /// Cuts the window into consecutive pieces of length `step` from
    /// `start`; the last piece is clamped to `end` and may be shorter.
    ///
    /// OpenCost lets the last piece run past `end`; we clamp so the pieces
    /// cover exactly this window. An empty window gives no pieces; a
    /// non-positive `step` gives the window itself. The caller chooses
    /// `step`: a tiny step over a long window makes a very long vector.
    pub fn split(&self, step: TimeDelta) -> Vec<Window> {
        if self.is_empty() {
            return Vec::new();
        }
        if step <= TimeDelta::zero() {
            return vec![*self];
        }
        self.split_by(|t| {
            t.checked_add_signed(step)
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        })
    }

    /// Cuts the window at the UTC boundaries of `period` (e.g. at every UTC
    /// midnight for [`Period::Day`]). The first and last pieces may be
    /// partial periods; an empty window gives no pieces.
    pub fn split_at(&self, period: Period) -> Vec<Window> {
        if self.is_empty() {
            return Vec::new();
        }
        self.split_by(|t| period.next(t))
    }

    /// Shared loop of the splitters; `next(t)` must be later than `t` for
    /// every `t < end`, which both callers guarantee.
    fn split_by(&self, next: impl Fn(DateTime<Utc>) -> DateTime<Utc>) -> Vec<Window> {
        let mut pieces = Vec::new();
        let mut start = self.start;
        while start < self.end {
            let end = next(start).min(self.end);
            pieces.push(Window { start, end });
            start = end;
        }
        pieces
    }

    /// The length as a Prometheus range: whole days as `"Nd"`, else whole
    /// hours `"Nh"`, else whole minutes `"Nm"`, else whole seconds `"Ns"`
    /// (sub-second parts are dropped). Empty, as in OpenCost's
    /// `DurationString`, when the window is shorter than one second.
    pub fn duration_string(&self) -> String {
        duration_string(self.duration())
    }
}

/// A duration as a Prometheus range, as [`Window::duration_string`]
/// spells a window's length (`91d`, `49h`, `90m`, `45s`; empty below a
/// second).
pub fn duration_string(d: TimeDelta) -> String {
    let secs = d.num_seconds();
    if secs <= 0 {
        String::new()
    } else if secs % 86_400 == 0 {
        format!("{}d", secs / 86_400)
    } else if secs % 3_600 == 0 {
        format!("{}h", secs / 3_600)
    } else if secs % 60 == 0 {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

impl fmt::Display for Window {
    /// `[<start>, <end>)` in RFC 3339 with a `Z` suffix, to the second.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}, {})",
            self.start.to_rfc3339_opts(SecondsFormat::Secs, true),
            self.end.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }
}

/// `{"start": RFC 3339, "end": RFC 3339}`, exact to the nanosecond (the
/// ETL meta's shape, and the CLI's JSON reports').
#[derive(serde::Serialize, serde::Deserialize)]
struct WindowWire {
    start: String,
    end: String,
}

impl serde::Serialize for Window {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let text = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        WindowWire {
            start: text(self.start),
            end: text(self.end),
        }
        .serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Window {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let wire = WindowWire::deserialize(d)?;
        let time = |s: &str, side: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.to_utc())
                .map_err(|e| D::Error::custom(format!("window.{side} {s:?}: {e}")))
        };
        Window::new(time(&wire.start, "start")?, time(&wire.end, "end")?)
            .map_err(|e| D::Error::custom(format!("window: {e}")))
    }
}

/// A calendar period in UTC, for cutting windows at period boundaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Period {
    /// A clock hour.
    Hour,
    /// A UTC day, midnight to midnight.
    Day,
    /// A week from Sunday 00:00 UTC (OpenCost's weeks end on Saturday).
    Week,
    /// A calendar month from the 1st, 00:00 UTC.
    Month,
}

impl Period {
    /// The start of the period containing `t`.
    ///
    /// Saturates at the earliest representable time if that start is not
    /// representable (only possible for weeks at the very start of chrono's
    /// range).
    pub fn floor(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let date = t.date_naive();
        let start = match self {
            Period::Hour => date.and_hms_opt(t.hour(), 0, 0),
            Period::Day => Some(date.and_time(NaiveTime::MIN)),
            Period::Week => sunday_on_or_before(date).map(|d| d.and_time(NaiveTime::MIN)),
            Period::Month => date.with_day(1).map(|d| d.and_time(NaiveTime::MIN)),
        };
        start.map_or(DateTime::<Utc>::MIN_UTC, |s| s.and_utc())
    }

    /// The start of the period after the one containing `t`; always later
    /// than `t`, except that it saturates at the latest representable time.
    pub fn next(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let floor = self.floor(t);
        let next = match self {
            Period::Hour => floor.checked_add_signed(HOUR),
            Period::Day => floor.checked_add_signed(DAY),
            Period::Week => floor.checked_add_signed(WEEK),
            Period::Month => floor.checked_add_months(Months::new(1)),
        };
        next.unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// Rounds `t` down to a multiple of `res` on `t`'s own wall clock (OpenCost's
/// `RoundBack`).
///
/// Multiples are counted from 0001-01-01T00:00 local time, as Go's
/// `Time.Truncate` does, so any `res` dividing a day aligns to local
/// midnight. `res` of exactly 7 days instead means the week starting Sunday
/// 00:00 local. A non-positive `res` returns `t`. Saturates at the earliest
/// representable time.
///
/// ```
/// use chrono::{DateTime, TimeDelta};
/// use costetl_core::window::round_back;
///
/// let t = DateTime::parse_from_rfc3339("2020-01-01T12:37:48-07:00").unwrap();
/// let want = DateTime::parse_from_rfc3339("2020-01-01T00:00:00-07:00").unwrap();
/// assert_eq!(round_back(t, TimeDelta::hours(24)), want);
/// ```
pub fn round_back(t: DateTime<FixedOffset>, res: TimeDelta) -> DateTime<FixedOffset> {
    truncate_local(t, res).unwrap_or_else(|| earliest_in(*t.offset()))
}

/// Rounds `t` up to a multiple of `res` on `t`'s own wall clock (OpenCost's
/// `RoundForward`): `t` itself if already aligned, else
/// [`round_back`]`(t, res) + res`. Saturates at the latest representable
/// time.
pub fn round_forward(t: DateTime<FixedOffset>, res: TimeDelta) -> DateTime<FixedOffset> {
    let Some(back) = truncate_local(t, res) else {
        // Only at the very bottom of chrono's range: the aligned point below
        // t does not exist, and t is the nearest answer that does.
        return t;
    };
    if back == t {
        return t;
    }
    back.checked_add_signed(res)
        .unwrap_or_else(|| latest_in(*t.offset()))
}

/// Go's `Truncate` on the local wall clock, plus OpenCost's week special
/// case; `None` when the result is not representable.
fn truncate_local(t: DateTime<FixedOffset>, res: TimeDelta) -> Option<DateTime<FixedOffset>> {
    if res == WEEK {
        let sunday = sunday_on_or_before(local_naive(t)?.date())?;
        return t
            .offset()
            .from_local_datetime(&sunday.and_time(NaiveTime::MIN))
            .single();
    }
    let res_ns = nanos(res);
    if res_ns <= 0 {
        return Some(t);
    }
    let go_zero = NaiveDate::from_ymd_opt(1, 1, 1)?.and_time(NaiveTime::MIN);
    // i128 because the span from year 1 exceeds i64 nanoseconds.
    let since = nanos(local_naive(t)?.signed_duration_since(go_zero));
    t.checked_sub_signed(delta_from_nanos(since.rem_euclid(res_ns))?)
}

/// `t`'s wall-clock time, without the panic of `naive_local` at the edges of
/// chrono's range.
fn local_naive(t: DateTime<FixedOffset>) -> Option<NaiveDateTime> {
    t.naive_utc().checked_add_offset(*t.offset())
}

fn nanos(d: TimeDelta) -> i128 {
    i128::from(d.num_seconds()) * NANOS_PER_SEC + i128::from(d.subsec_nanos())
}

fn delta_from_nanos(ns: i128) -> Option<TimeDelta> {
    let secs = i64::try_from(ns.div_euclid(NANOS_PER_SEC)).ok()?;
    let sub = u32::try_from(ns.rem_euclid(NANOS_PER_SEC)).ok()?;
    TimeDelta::new(secs, sub)
}

/// The earliest instant in `off` whose wall clock is also representable, so
/// that formatting the saturated value cannot panic.
fn earliest_in(off: FixedOffset) -> DateTime<FixedOffset> {
    off.from_local_datetime(&NaiveDateTime::MIN)
        .single()
        .unwrap_or_else(|| DateTime::<Utc>::MIN_UTC.with_timezone(&off))
}

/// The latest instant in `off` whose wall clock is also representable.
fn latest_in(off: FixedOffset) -> DateTime<FixedOffset> {
    off.from_local_datetime(&NaiveDateTime::MAX)
        .single()
        .unwrap_or_else(|| DateTime::<Utc>::MAX_UTC.with_timezone(&off))
}

fn sunday_on_or_before(date: NaiveDate) -> Option<NaiveDate> {
    date.checked_sub_days(Days::new(u64::from(date.weekday().num_days_from_sunday())))
}

/// Midnight at the start of `date` in `off`, as UTC.
fn local_midnight(date: NaiveDate, off: FixedOffset) -> Option<DateTime<Utc>> {
    off.from_local_datetime(&date.and_time(NaiveTime::MIN))
        .single()
        .map(|t| t.to_utc())
}

/// The unit letter of `<N><unit>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Minute,
    Hour,
    Day,
    Week,
}

impl Unit {
    fn from_byte(b: u8) -> Option<Unit> {
        match b {
            b'm' => Some(Unit::Minute),
            b'h' => Some(Unit::Hour),
            b'd' => Some(Unit::Day),
            b'w' => Some(Unit::Week),
            _ => None,
        }
    }

    fn one(self) -> TimeDelta {
        match self {
            Unit::Minute => MINUTE,
            Unit::Hour => HOUR,
            Unit::Day => DAY,
            Unit::Week => WEEK,
        }
    }

    fn times(self, n: i64) -> Option<TimeDelta> {
        match self {
            Unit::Minute => TimeDelta::try_minutes(n),
            Unit::Hour => TimeDelta::try_hours(n),
            Unit::Day => TimeDelta::try_days(n),
            Unit::Week => TimeDelta::try_weeks(n),
        }
    }
}

/// The relative keywords, matched case-insensitively.
#[derive(Clone, Copy, Debug)]
enum Keyword {
    Today,
    Yesterday,
    Week,
    LastWeek,
    Month,
    LastMonth,
}

impl Keyword {
    fn parse(s: &str) -> Option<Keyword> {
        [
            ("today", Keyword::Today),
            ("yesterday", Keyword::Yesterday),
            ("week", Keyword::Week),
            ("lastweek", Keyword::LastWeek),
            ("month", Keyword::Month),
            ("lastmonth", Keyword::LastMonth),
        ]
        .into_iter()
        .find_map(|(name, kw)| s.eq_ignore_ascii_case(name).then_some(kw))
    }

    /// `None` only at the edges of chrono's range.
    fn window(self, now: DateTime<FixedOffset>) -> Option<Window> {
        let off = *now.offset();
        let today = local_naive(now)?.date();
        let now = now.to_utc();
        let (start, end) = match self {
            Keyword::Today => {
                let start = local_midnight(today, off)?;
                (start, start.checked_add_signed(DAY)?)
            }
            Keyword::Yesterday => {
                let end = local_midnight(today, off)?;
                (end.checked_sub_signed(DAY)?, end)
            }
            Keyword::Week => (local_midnight(sunday_on_or_before(today)?, off)?, now),
            Keyword::LastWeek => {
                let end = local_midnight(sunday_on_or_before(today)?, off)?;
                (end.checked_sub_signed(WEEK)?, end)
            }
            Keyword::Month => (local_midnight(today.with_day(1)?, off)?, now),
            Keyword::LastMonth => {
                let first = today.with_day(1)?;
                let start = local_midnight(first.checked_sub_months(Months::new(1))?, off)?;
                (start, local_midnight(first, off)?)
            }
        };
        Some(Window { start, end })
    }
}

/// The parser proper, on trimmed input; errors are reasons, which
/// [`Window::parse`] pairs with the original input.
fn parse_inner(s: &str, now: DateTime<FixedOffset>) -> Result<Window, &'static str> {
    if let Some(kw) = Keyword::parse(s) {
        return kw.window(now).ok_or(OUT_OF_RANGE);
    }
    // OpenCost also separates unix pairs with `|` or `-`; only digits can
    // sit on both sides then, so RFC3339 dates (which contain `-`) are safe.
    let unix_pair = s
        .split_once(['|', '-'])
        .filter(|(a, b)| is_digits(a.trim().as_bytes()) && is_digits(b.trim().as_bytes()));
    if let Some((a, b)) = s.split_once(',').or(unix_pair) {
        let (start, end) = parse_pair(a.trim(), b.trim())?;
        if end < start {
            return Err(REVERSED);
        }
        return Ok(Window { start, end });
    }
    let words: Vec<&str> = s.split_whitespace().collect();
    match words.as_slice() {
        [amount] => {
            let (n, unit) = parse_amount(amount)?;
            relative(n, unit, now)
        }
        [amount, kw, offset] if kw.eq_ignore_ascii_case("offset") => {
            let (n, unit) = parse_amount(amount)?;
            let (m, off_unit) = parse_amount(offset)?;
            if n == 0 {
                return Err(NOT_POSITIVE);
            }
            let len = unit.times(n).ok_or(DURATION_TOO_LARGE)?;
            // A zero offset is fine: it is just "ending now".
            let shift = off_unit.times(m).ok_or(DURATION_TOO_LARGE)?;
            let end = now.to_utc().checked_sub_signed(shift).ok_or(OUT_OF_RANGE)?;
            let start = end.checked_sub_signed(len).ok_or(OUT_OF_RANGE)?;
            Ok(Window { start, end })
        }
        _ => Err(EXPECTED),
    }
}

/// `<N>(m|h|d|w)`: ends at the end of the current unit (the current day for
/// weeks) in `now`'s offset, and lasts `n` units.
fn relative(n: i64, unit: Unit, now: DateTime<FixedOffset>) -> Result<Window, &'static str> {
    if n == 0 {
        return Err(NOT_POSITIVE);
    }
    let len = unit.times(n).ok_or(DURATION_TOO_LARGE)?;
    // Weeks end at midnight tonight, not at the end of the calendar week:
    // "1w" is the last seven days including today.
    let grain = if unit == Unit::Week { DAY } else { unit.one() };
    let end = truncate_local(now, grain)
        .and_then(|t| t.checked_add_signed(grain))
        .ok_or(OUT_OF_RANGE)?
        .to_utc();
    let start = end.checked_sub_signed(len).ok_or(OUT_OF_RANGE)?;
    Ok(Window { start, end })
}

/// `<digits><unit>` into its count and unit.
fn parse_amount(word: &str) -> Result<(i64, Unit), &'static str> {
    let (&last, digits) = word.as_bytes().split_last().ok_or(EXPECTED)?;
    let unit = Unit::from_byte(last).ok_or(EXPECTED)?;
    if !is_digits(digits) {
        return Err(EXPECTED);
    }
    // The unit byte is ASCII, so cutting it off leaves valid UTF-8.
    let n = word[..digits.len()]
        .parse::<i64>()
        .map_err(|_| NUMBER_TOO_LARGE)?;
    Ok((n, unit))
}

/// `<unix>,<unix>` or `<RFC3339>,<RFC3339>`, already split at the separator.
fn parse_pair(a: &str, b: &str) -> Result<(DateTime<Utc>, DateTime<Utc>), &'static str> {
    if is_digits(a.as_bytes()) && is_digits(b.as_bytes()) {
        return Ok((unix(a)?, unix(b)?));
    }
    match (
        DateTime::parse_from_rfc3339(a),
        DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(start), Ok(end)) => Ok((start.to_utc(), end.to_utc())),
        _ => Err(EXPECTED),
    }
}

fn unix(digits: &str) -> Result<DateTime<Utc>, &'static str> {
    let secs = digits.parse::<i64>().map_err(|_| NUMBER_TOO_LARGE)?;
    DateTime::from_timestamp(secs, 0).ok_or(OUT_OF_RANGE)
}

/// Non-empty and ASCII digits only (Go's `\d+`; `str::parse` would also take
/// a sign).
fn is_digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn fixed(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn win(start: &str, end: &str) -> Window {
        Window::new(utc(start), utc(end)).unwrap()
    }

    fn parse_at(s: &str, now: &str) -> Window {
        Window::parse(s, fixed(now)).unwrap_or_else(|e| panic!("{s:?} at {now}: {e}"))
    }

    #[test]
    fn unix_pair_accepts_opencost_separators() {
        let now = fixed("2024-05-03T08:01:04Z");
        let want = win("2020-03-09T00:00:00Z", "2020-03-11T00:00:00Z");
        for s in [
            "1583712000,1583884800",
            "1583712000|1583884800",
            "1583712000-1583884800",
        ] {
            assert_eq!(Window::parse(s, now).unwrap(), want, "{s}");
        }
        assert!(Window::parse("1583712000-", now).is_err());
    }

    fn reason(s: &str, now: &str) -> String {
        match Window::parse(s, fixed(now)) {
            Err(Error::InvalidWindow { input, reason }) => {
                assert_eq!(input, s);
                reason
            }
            other => panic!("{s:?} should fail, got {other:?}"),
        }
    }

    const NOW: &str = "2024-05-03T08:01:04Z";

    #[test]
    fn new_rejects_reversed_bounds() {
        let err = Window::new(utc("2024-05-03T09:00:00Z"), utc("2024-05-03T08:00:00Z"));
        assert_eq!(
            err,
            Err(Error::InvalidWindow {
                input: "2024-05-03T09:00:00Z,2024-05-03T08:00:00Z".into(),
                reason: REVERSED.into(),
            })
        );
        let t = utc(NOW);
        assert!(Window::new(t, t).unwrap().is_empty());
    }

    #[test]
    fn accessors_and_display() {
        let w = win("2024-05-03T07:00:00Z", "2024-05-03T09:30:00.5Z");
        assert_eq!(w.start(), utc("2024-05-03T07:00:00Z"));
        assert_eq!(w.end(), utc("2024-05-03T09:30:00.5Z"));
        assert_eq!(w.duration(), TimeDelta::milliseconds(9_000_500));
        assert!((w.hours() - 2.5 - 0.5 / 3600.0).abs() < 1e-12);
        assert!((w.minutes() - 150.0 - 0.5 / 60.0).abs() < 1e-12);
        assert!(!w.is_empty());
        assert_eq!(
            w.to_string(),
            "[2024-05-03T07:00:00Z, 2024-05-03T09:30:00Z)"
        );
    }

    #[test]
    fn contains_is_half_open() {
        let w = win("2024-05-03T00:00:00Z", "2024-05-04T00:00:00Z");
        assert!(w.contains(w.start()));
        assert!(w.contains(utc("2024-05-03T23:59:59.999Z")));
        assert!(!w.contains(w.end()));
        assert!(!w.contains(utc("2024-05-02T23:59:59Z")));
    }

    #[test]
    fn overlap_and_expand() {
        let a = win("2024-05-03T00:00:00Z", "2024-05-04T00:00:00Z");
        let b = win("2024-05-03T12:00:00Z", "2024-05-05T00:00:00Z");
        let c = win("2024-05-04T00:00:00Z", "2024-05-05T00:00:00Z");
        assert_eq!(
            a.overlap(&b),
            Some(win("2024-05-03T12:00:00Z", "2024-05-04T00:00:00Z"))
        );
        assert_eq!(a.overlap(&c), None, "touching is not overlapping");
        let empty = win("2024-05-03T06:00:00Z", "2024-05-03T06:00:00Z");
        assert_eq!(a.overlap(&empty), None);
        assert_eq!(
            a.expand(&c),
            win("2024-05-03T00:00:00Z", "2024-05-05T00:00:00Z")
        );
    }

    #[test]
    fn percent_in_window_matches_opencost() {
        let day = win("2024-05-03T00:00:00Z", "2024-05-04T00:00:00Z");
        let cases = [
            (("2024-05-02T12:00:00Z", "2024-05-03T12:00:00Z"), 0.5),
            (("2024-05-03T03:00:00Z", "2024-05-03T05:00:00Z"), 1.0),
            (("2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z"), 0.0),
            (("2024-05-05T00:00:00Z", "2024-05-06T00:00:00Z"), 0.0),
            (("2024-05-02T12:00:00Z", "2024-05-04T12:00:00Z"), 0.5),
            (("2024-05-03T03:00:00Z", "2024-05-03T03:00:00Z"), 0.0),
        ];
        for ((s, e), want) in cases {
            let got = day.percent_in_window(&win(s, e));
            assert!((got - want).abs() < 1e-12, "[{s}, {e}): {got} != {want}");
        }
    }

    #[test]
    fn split_clamps_last_piece() {
        let w = win("2024-05-03T00:00:00Z", "2024-05-03T05:00:00Z");
        assert_eq!(
            w.split(TimeDelta::hours(2)),
            vec![
                win("2024-05-03T00:00:00Z", "2024-05-03T02:00:00Z"),
                win("2024-05-03T02:00:00Z", "2024-05-03T04:00:00Z"),
                win("2024-05-03T04:00:00Z", "2024-05-03T05:00:00Z"),
            ]
        );
        assert_eq!(w.split(TimeDelta::zero()), vec![w]);
        assert_eq!(w.split(TimeDelta::hours(-1)), vec![w]);
        assert_eq!(w.split(TimeDelta::MAX), vec![w]);
        let empty = win("2024-05-03T00:00:00Z", "2024-05-03T00:00:00Z");
        assert!(empty.split(TimeDelta::hours(1)).is_empty());
        assert!(empty.split(TimeDelta::zero()).is_empty());
    }

    #[test]
    fn split_at_calendar_boundaries() {
        let w = win("2024-01-30T18:00:00Z", "2024-02-01T06:00:00Z");
        assert_eq!(
            w.split_at(Period::Day),
            vec![
                win("2024-01-30T18:00:00Z", "2024-01-31T00:00:00Z"),
                win("2024-01-31T00:00:00Z", "2024-02-01T00:00:00Z"),
                win("2024-02-01T00:00:00Z", "2024-02-01T06:00:00Z"),
            ]
        );
        assert_eq!(
            w.split_at(Period::Month),
            vec![
                win("2024-01-30T18:00:00Z", "2024-02-01T00:00:00Z"),
                win("2024-02-01T00:00:00Z", "2024-02-01T06:00:00Z"),
            ]
        );
        // 2024-01-28 is a Sunday.
        let w = win("2024-01-27T00:00:00Z", "2024-02-05T00:00:00Z");
        assert_eq!(
            w.split_at(Period::Week),
            vec![
                win("2024-01-27T00:00:00Z", "2024-01-28T00:00:00Z"),
                win("2024-01-28T00:00:00Z", "2024-02-04T00:00:00Z"),
                win("2024-02-04T00:00:00Z", "2024-02-05T00:00:00Z"),
            ]
        );
        let w = win("2024-05-03T07:30:00Z", "2024-05-03T09:00:00Z");
        assert_eq!(
            w.split_at(Period::Hour),
            vec![
                win("2024-05-03T07:30:00Z", "2024-05-03T08:00:00Z"),
                win("2024-05-03T08:00:00Z", "2024-05-03T09:00:00Z"),
            ]
        );
    }

    #[test]
    fn period_floor_and_next() {
        let t = utc("2024-01-02T10:20:30.5Z"); // a Tuesday
        assert_eq!(Period::Hour.floor(t), utc("2024-01-02T10:00:00Z"));
        assert_eq!(Period::Day.floor(t), utc("2024-01-02T00:00:00Z"));
        assert_eq!(Period::Week.floor(t), utc("2023-12-31T00:00:00Z"));
        assert_eq!(Period::Month.floor(t), utc("2024-01-01T00:00:00Z"));
        assert_eq!(Period::Hour.next(t), utc("2024-01-02T11:00:00Z"));
        assert_eq!(Period::Day.next(t), utc("2024-01-03T00:00:00Z"));
        assert_eq!(Period::Week.next(t), utc("2024-01-07T00:00:00Z"));
        assert_eq!(Period::Month.next(t), utc("2024-02-01T00:00:00Z"));
        let dec = utc("2023-12-15T00:00:00Z");
        assert_eq!(Period::Month.next(dec), utc("2024-01-01T00:00:00Z"));
        // Saturation instead of a panic at the edges of chrono's range.
        assert_eq!(
            Period::Day.next(DateTime::<Utc>::MAX_UTC),
            DateTime::<Utc>::MAX_UTC
        );
        let _ = Period::Week.floor(DateTime::<Utc>::MIN_UTC);
    }

    #[test]
    fn duration_strings() {
        let cases = [
            ("2024-05-01T00:00:00Z", "2024-05-03T00:00:00Z", "2d"),
            ("2024-05-01T00:00:00Z", "2024-05-01T05:00:00Z", "5h"),
            ("2024-05-01T00:00:00Z", "2024-05-01T00:07:00Z", "7m"),
            ("2024-05-01T00:00:00Z", "2024-05-01T00:00:09Z", "9s"),
            ("2024-05-01T00:00:00Z", "2024-05-01T00:00:09.9Z", "9s"),
            ("2024-05-01T00:00:00Z", "2024-05-01T00:00:00.9Z", ""),
            ("2024-05-01T00:00:00Z", "2024-05-01T00:00:00Z", ""),
        ];
        for (s, e, want) in cases {
            assert_eq!(win(s, e).duration_string(), want, "[{s}, {e})");
        }
        let w = parse_at("1589448338,1589534798", NOW);
        assert_eq!(w.duration_string(), "1441m");
    }

    #[test]
    fn keywords_in_utc() {
        let cases = [
            ("today", "2024-05-03T00:00:00Z", "2024-05-04T00:00:00Z"),
            ("yesterday", "2024-05-02T00:00:00Z", "2024-05-03T00:00:00Z"),
            // 2024-05-03 is a Friday; that week's Sunday is 2024-04-28.
            ("week", "2024-04-28T00:00:00Z", NOW),
            ("lastweek", "2024-04-21T00:00:00Z", "2024-04-28T00:00:00Z"),
            ("month", "2024-05-01T00:00:00Z", NOW),
            ("lastmonth", "2024-04-01T00:00:00Z", "2024-05-01T00:00:00Z"),
        ];
        for (s, start, end) in cases {
            assert_eq!(parse_at(s, NOW), win(start, end), "{s}");
        }
    }

    #[test]
    fn keywords_are_trimmed_and_case_insensitive() {
        assert_eq!(parse_at("  ToDay\n", NOW), parse_at("today", NOW));
        assert_eq!(parse_at("LASTWEEK", NOW), parse_at("lastweek", NOW));
        let now = utc(NOW);
        assert_eq!(
            Window::parse_utc("today", now).unwrap(),
            parse_at("today", NOW)
        );
    }

    #[test]
    fn today_in_negative_offset() {
        let now = "2024-05-03T01:30:00-07:00";
        assert_eq!(
            parse_at("today", now),
            win("2024-05-03T07:00:00Z", "2024-05-04T07:00:00Z")
        );
        assert_eq!(
            parse_at("yesterday", now),
            win("2024-05-02T07:00:00Z", "2024-05-03T07:00:00Z")
        );
        // Late evening local is already the next day in UTC; OpenCost would
        // answer with the next local midnight here.
        assert_eq!(
            parse_at("today", "2024-05-03T20:00:00-07:00"),
            win("2024-05-03T07:00:00Z", "2024-05-04T07:00:00Z")
        );
    }

    #[test]
    fn keywords_across_year_boundary_utc() {
        let now = "2024-01-02T10:00:00Z"; // Tuesday
        let cases = [
            ("week", "2023-12-31T00:00:00Z", now),
            ("lastweek", "2023-12-24T00:00:00Z", "2023-12-31T00:00:00Z"),
            ("month", "2024-01-01T00:00:00Z", now),
            ("lastmonth", "2023-12-01T00:00:00Z", "2024-01-01T00:00:00Z"),
            ("yesterday", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"),
        ];
        for (s, start, end) in cases {
            assert_eq!(parse_at(s, now), win(start, end), "{s}");
        }
        // On a Sunday at midnight "week" is empty and "lastweek" is the
        // week that just ended.
        let sunday = "2023-12-31T00:00:00Z";
        assert!(parse_at("week", sunday).is_empty());
        assert_eq!(
            parse_at("lastweek", sunday),
            win("2023-12-24T00:00:00Z", sunday)
        );
        // Lastmonth from January 1st reaches back into the previous year.
        assert_eq!(
            parse_at("lastmonth", "2024-01-01T00:00:00Z"),
            win("2023-12-01T00:00:00Z", "2024-01-01T00:00:00Z")
        );
    }

    #[test]
    fn keywords_across_year_boundary_with_offset() {
        // Still Sunday 2023-12-31 locally, already 2024 in UTC.
        let now = "2023-12-31T20:00:00-05:00";
        let cases = [
            ("today", "2023-12-31T05:00:00Z", "2024-01-01T05:00:00Z"),
            ("week", "2023-12-31T05:00:00Z", "2024-01-01T01:00:00Z"),
            ("lastweek", "2023-12-24T05:00:00Z", "2023-12-31T05:00:00Z"),
            ("month", "2023-12-01T05:00:00Z", "2024-01-01T01:00:00Z"),
            ("lastmonth", "2023-11-01T05:00:00Z", "2023-12-01T05:00:00Z"),
        ];
        for (s, start, end) in cases {
            assert_eq!(parse_at(s, now), win(start, end), "{s}");
        }
    }

    #[test]
    fn relative_durations_round_up_to_the_unit() {
        let cases = [
            ("2h", "2024-05-03T07:00:00Z", "2024-05-03T09:00:00Z"),
            ("3d", "2024-05-01T00:00:00Z", "2024-05-04T00:00:00Z"),
            ("10m", "2024-05-03T07:52:00Z", "2024-05-03T08:02:00Z"),
            ("1w", "2024-04-27T00:00:00Z", "2024-05-04T00:00:00Z"),
            ("2w", "2024-04-20T00:00:00Z", "2024-05-04T00:00:00Z"),
        ];
        for (s, start, end) in cases {
            assert_eq!(parse_at(s, NOW), win(start, end), "{s}");
        }
        // Day-based forms end at local midnight tonight.
        assert_eq!(
            parse_at("1d", "2024-05-03T20:00:00-07:00"),
            win("2024-05-03T07:00:00Z", "2024-05-04T07:00:00Z")
        );
        // Hours follow the local clock, which matters for half-hour offsets.
        assert_eq!(
            parse_at("1h", "2024-05-03T10:10:00+05:30"),
            win("2024-05-03T04:30:00Z", "2024-05-03T05:30:00Z")
        );
    }

    #[test]
    fn offset_forms_do_not_round() {
        assert_eq!(
            parse_at("24h offset 14h", NOW),
            win("2024-05-01T18:01:04Z", "2024-05-02T18:01:04Z")
        );
        // A week offset is 7 days, not OpenCost's 7 × 24 days.
        assert_eq!(
            parse_at("1d offset 1w", NOW),
            win("2024-04-25T08:01:04Z", "2024-04-26T08:01:04Z")
        );
        assert_eq!(
            parse_at(" 24h \t OFFSET  14h ", NOW),
            parse_at("24h offset 14h", NOW)
        );
        assert_eq!(
            parse_at("30m offset 0m", NOW),
            win("2024-05-03T07:31:04Z", NOW)
        );
    }

    #[test]
    fn pairs() {
        assert_eq!(
            parse_at("1583712000,1583884800", NOW).duration(),
            TimeDelta::hours(48)
        );
        assert_eq!(
            parse_at("1583712000,1583884800", NOW),
            win("2020-03-09T00:00:00Z", "2020-03-11T00:00:00Z")
        );
        let w = parse_at("2020-04-08T00:00:00Z,2020-04-12T00:00:00Z", NOW);
        assert_eq!(w.duration(), TimeDelta::hours(96));
        assert_eq!(
            parse_at("2020-04-08T00:00:00+02:00, 2020-04-08T10:00:00-07:00", NOW),
            win("2020-04-07T22:00:00Z", "2020-04-08T17:00:00Z")
        );
        assert!(parse_at("1583712000,1583712000", NOW).is_empty());
    }

    #[test]
    fn errors() {
        for s in [
            "",
            "garbage",
            "5x",
            "h",
            "-5h",
            "+5h",
            "5H",
            "5 h",
            "1h offset",
            "offset 1h",
            "1h offset 1x",
            "1h offsets 1h",
            "1h offset 1h 1h",
            "1,",
            ",1",
            "1,2,3",
            "2020-04-08T00:00:00Z,",
            "2020-04-08T00:00:00Z,1586304000",
            "2020-04-08,2020-04-09",
            "tomorrow",
            "5h\u{0660}",
            "\u{0661}h",
        ] {
            assert_eq!(reason(s, NOW), EXPECTED, "{s:?}");
        }
        assert_eq!(reason("0h", NOW), NOT_POSITIVE);
        assert_eq!(reason("0d offset 1h", NOW), NOT_POSITIVE);
        assert_eq!(reason("1583884800,1583712000", NOW), REVERSED);
        assert_eq!(
            reason("2020-04-12T00:00:00Z,2020-04-08T00:00:00Z", NOW),
            REVERSED
        );
        assert_eq!(reason("99999999999999999999d", NOW), NUMBER_TOO_LARGE);
        assert_eq!(reason("9223372036854775807d", NOW), DURATION_TOO_LARGE);
        assert_eq!(reason("9223372036854775807m", NOW), DURATION_TOO_LARGE);
        assert_eq!(reason("100000000000d", NOW), OUT_OF_RANGE);
        assert_eq!(reason("1h offset 100000000000d", NOW), OUT_OF_RANGE);
        assert_eq!(
            reason("1h offset 99999999999999999999w", NOW),
            NUMBER_TOO_LARGE
        );
        assert_eq!(reason("1,99999999999999999999", NOW), NUMBER_TOO_LARGE);
        assert_eq!(reason("1,9223372036854775807", NOW), OUT_OF_RANGE);
    }

    #[test]
    fn error_display_names_the_input() {
        let err = Window::parse_utc("5x", utc(NOW)).unwrap_err();
        assert!(err.to_string().contains("\"5x\""), "{err}");
    }

    #[test]
    fn round_back_and_forward() {
        let day = TimeDelta::hours(24);
        assert_eq!(
            round_back(fixed("2020-01-01T12:37:48-07:00"), day),
            fixed("2020-01-01T00:00:00-07:00")
        );
        assert_eq!(
            round_back(fixed("2020-01-01T23:59:00Z"), TimeDelta::days(7)),
            fixed("2019-12-29T00:00:00Z")
        );
        assert_eq!(
            round_forward(fixed("2020-01-01T00:00:01-07:00"), day),
            fixed("2020-01-02T00:00:00-07:00")
        );
        let aligned = fixed("2020-01-02T00:00:00-07:00");
        assert_eq!(round_forward(aligned, day), aligned);
        assert_eq!(round_back(aligned, day), aligned);
        assert_eq!(
            round_forward(fixed("2020-01-01T23:59:00Z"), TimeDelta::days(7)),
            fixed("2020-01-05T00:00:00Z")
        );
        assert_eq!(
            round_back(fixed("2020-01-01T12:37:48+05:30"), TimeDelta::minutes(15)),
            fixed("2020-01-01T12:30:00+05:30")
        );
        // The local offset is kept.
        assert_eq!(
            round_back(fixed("2020-01-01T12:37:48-07:00"), day)
                .offset()
                .local_minus_utc(),
            -7 * 3600
        );
        let t = fixed("2020-01-01T12:37:48-07:00");
        assert_eq!(round_back(t, TimeDelta::zero()), t);
        assert_eq!(round_forward(t, TimeDelta::hours(-1)), t);
        // Saturation rather than a panic at the edges of chrono's range.
        let max = DateTime::<Utc>::MAX_UTC.fixed_offset();
        let _ = round_forward(max, day).to_string();
        let min = DateTime::<Utc>::MIN_UTC.fixed_offset();
        let _ = round_back(min, TimeDelta::days(3)).to_string();
    }

    fn any_utc() -> impl Strategy<Value = DateTime<Utc>> {
        // 1900-01-01 to 2200-01-01.
        (-2_208_988_800i64..7_258_118_400, 0u32..1_000_000_000)
            .prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap())
    }

    fn any_offset() -> impl Strategy<Value = FixedOffset> {
        (-86_399i32..=86_399).prop_map(|s| FixedOffset::east_opt(s).unwrap())
    }

    fn any_window(max_len_secs: i64) -> impl Strategy<Value = Window> {
        (any_utc(), 0..=max_len_secs, 0u32..1_000_000_000).prop_map(|(start, secs, nanos)| {
            let end = start + TimeDelta::new(secs, nanos).unwrap();
            Window::new(start, end).unwrap()
        })
    }

    fn any_period() -> impl Strategy<Value = Period> {
        prop_oneof![
            Just(Period::Hour),
            Just(Period::Day),
            Just(Period::Week),
            Just(Period::Month),
        ]
    }

    fn assert_tiles(w: &Window, pieces: &[Window]) {
        if w.is_empty() {
            assert!(pieces.is_empty());
            return;
        }
        assert_eq!(pieces.first().unwrap().start(), w.start());
        assert_eq!(pieces.last().unwrap().end(), w.end());
        for pair in pieces.windows(2) {
            assert_eq!(pair[0].end(), pair[1].start());
        }
        assert!(pieces.iter().all(|p| !p.is_empty()));
    }

    proptest! {
        #[test]
        fn split_tiles_the_window(
            w in any_window(10 * 86_400),
            step_secs in 60i64..5 * 86_400,
            step_nanos in 0u32..1_000_000_000,
        ) {
            let step = TimeDelta::new(step_secs, step_nanos).unwrap();
            let pieces = w.split(step);
            assert_tiles(&w, &pieces);
            prop_assert!(pieces.iter().all(|p| p.duration() <= step));
            // Only the last piece may be short.
            if let Some((_, init)) = pieces.split_last() {
                prop_assert!(init.iter().all(|p| p.duration() == step));
            }
        }

        #[test]
        fn split_at_stays_within_periods(
            w in any_window(400 * 86_400),
            period in any_period(),
        ) {
            // Hours over a long window would make huge vectors; cap them.
            let w = if period == Period::Hour {
                Window::new(w.start(), w.end().min(w.start() + TimeDelta::days(20))).unwrap()
            } else {
                w
            };
            let pieces = w.split_at(period);
            assert_tiles(&w, &pieces);
            for p in &pieces {
                let floor = period.floor(p.start());
                prop_assert!(floor <= p.start());
                prop_assert!(p.end() <= period.next(p.start()));
                prop_assert!(period.next(floor) == period.next(p.start()));
            }
        }

        #[test]
        fn period_floor_is_idempotent_and_next_is_later(t in any_utc(), period in any_period()) {
            let floor = period.floor(t);
            prop_assert!(floor <= t);
            prop_assert_eq!(period.floor(floor), floor);
            prop_assert!(period.next(t) > t);
            prop_assert_eq!(period.floor(period.next(t)), period.next(t));
        }

        #[test]
        fn hours_window_has_the_asked_length_and_ends_after_now(
            t in any_utc(),
            off in any_offset(),
            n in 1i64..1_000_000,
        ) {
            let now = t.with_timezone(&off);
            let w = Window::parse(&format!("{n}h"), now).unwrap();
            prop_assert_eq!(w.duration(), TimeDelta::hours(n));
            prop_assert!(w.end() > t);
            prop_assert!(w.end() - t <= TimeDelta::hours(1));
        }

        #[test]
        fn days_window_starts_at_local_midnight(
            t in any_utc(),
            off in any_offset(),
            n in 1i64..10_000,
        ) {
            let now = t.with_timezone(&off);
            let w = Window::parse(&format!("{n}d"), now).unwrap();
            prop_assert_eq!(w.duration(), TimeDelta::days(n));
            prop_assert_eq!(w.start().with_timezone(&off).time(), NaiveTime::MIN);
            prop_assert!(w.contains(t));
            let today = Window::parse("today", now).unwrap();
            prop_assert!(today.contains(t));
            prop_assert_eq!(today.end(), w.end());
        }

        #[test]
        fn round_back_le_t_le_round_forward(
            t in any_utc(),
            off in any_offset(),
            res_secs in 1i64..30 * 86_400,
        ) {
            let t = t.with_timezone(&off);
            let res = TimeDelta::seconds(res_secs);
            let back = round_back(t, res);
            let fwd = round_forward(t, res);
            prop_assert!(back <= t && t <= fwd);
            prop_assert!(fwd - back <= res);
            prop_assert_eq!(round_back(back, res), back);
        }

        #[test]
        fn parse_never_panics(
            s in "[0-9]{0,22}[mhdwx]?( +(offset|OFFSET) +[0-9]{0,22}[mhdw]?)?|[0-9]{0,22},[0-9]{0,22}|.{0,40}",
            t in any_utc(),
            off in any_offset(),
        ) {
            let _ = Window::parse(&s, t.with_timezone(&off));
        }
    }
}
