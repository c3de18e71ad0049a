//! Where ETL files live: the store [`Resolution`] of a set, UTC-aligned
//! windows of it, and [`EtlKey`], the (cluster, resolution, window) triple
//! that names one file and maps to and from its object-store path.
//!
//! The layout is Hive-style partitions, which Athena, Trino, Spark and
//! DuckDB discover and prune without being told:
//!
//! ```text
//! allocations/resolution=1d/cluster=<id>/day=2023-11-15/1700006400-1700092800.parquet
//! allocations/resolution=1h/cluster=<id>/day=2023-11-15/1700006400-1700010000.parquet
//! ```
//!
//! One table per resolution (its location `allocations/resolution=1d/`),
//! so a table never mixes hourly and daily files of the same time; hourly
//! files sit under their UTC day. The day partition is `day`, not `date`,
//! which Athena's DDL reserves.
//!
//! A cluster id is one path segment: `/`, `\`, `%` and control characters
//! are written `%XX` (everything else, non-ASCII included, as it is): the
//! subset of Hive's partition value escaping that engines unescape one
//! character at a time, so an EKS ARN (`arn:aws:eks:…:cluster/prod`) is a
//! cluster like any other.
//!
//! costetl before schema version 2 wrote Kubecost's federated layout
//! (`federated/<cluster>/etl/parquet/allocations/<res>/<start>-<end>.parquet`),
//! which no engine can prune by day; [`EtlKey::parse_legacy`] still reads
//! those paths so a store can be migrated.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::window::Window;

/// The prefix under which every ETL file lives.
pub const ALLOCATIONS_ROOT: &str = "allocations/";
/// The prefix of the layout costetl wrote before schema version 2.
pub const LEGACY_ROOT: &str = "federated/";

/// Legacy path segments between the cluster and the resolution.
const LEGACY_PIPELINE: &str = "etl/parquet/allocations";
/// File extension of ETL files.
const EXTENSION: &str = ".parquet";
/// Extension of a build's intent marker beside its file.
const PENDING: &str = ".pending";
/// Prefix of a marker's name: files starting with `_` or `.` are hidden
/// from the engines that read whole partition directories.
const HIDDEN: &str = "_";
/// Longest escaped cluster segment accepted: a file name on common local
/// file systems (255 bytes), well under object stores' 1024-byte keys.
const MAX_SEGMENT_BYTES: usize = 255;

/// Store resolution of a set: one file per UTC-aligned hour or day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Resolution {
    /// One file per clock hour (UTC).
    #[serde(rename = "1h", alias = "hourly")]
    Hourly,
    /// One file per UTC day, midnight to midnight.
    #[serde(rename = "1d", alias = "daily")]
    Daily,
}

impl Resolution {
    /// `"1h"` or `"1d"`: the path segment and the meta's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hourly => "1h",
            Self::Daily => "1d",
        }
    }

    /// The length of one window.
    pub fn duration(self) -> TimeDelta {
        match self {
            Self::Hourly => TimeDelta::hours(1),
            Self::Daily => TimeDelta::days(1),
        }
    }

    /// Whether `t` is a boundary of this resolution: a whole multiple of
    /// its length since the Unix epoch, so every day starts at UTC midnight.
    fn is_boundary(self, t: DateTime<Utc>) -> bool {
        t.timestamp_subsec_nanos() == 0
            && t.timestamp().rem_euclid(self.duration().num_seconds()) == 0
    }

    /// The aligned windows of this resolution that lie inside `range`, in
    /// order; none for an empty range.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidWindow`] when `range`'s ends are not aligned to this
    /// resolution (a daily range must run from UTC midnight to UTC
    /// midnight).
    pub fn windows(self, range: Window) -> Result<Vec<Window>> {
        for (side, t) in [("start", range.start()), ("end", range.end())] {
            if !self.is_boundary(t) {
                return Err(Error::InvalidWindow {
                    input: range.to_string(),
                    reason: format!("{side} is not aligned to {self} (UTC)"),
                });
            }
        }
        Ok(range.split(self.duration()))
    }

    /// The whole windows of this resolution inside `range`, as one range:
    /// its start rounded up and its end rounded down to boundaries. `None`
    /// when no whole window fits (a daily read of `today`, say).
    pub fn inner(self, range: Window) -> Option<Window> {
        let len = self.duration().num_seconds();
        let down = |s: i64| s - s.rem_euclid(len);
        let start = range.start();
        let mut first = down(start.timestamp());
        if !self.is_boundary(start) {
            first += len;
        }
        let last = down(range.end().timestamp());
        if first >= last {
            return None;
        }
        let at = |s| DateTime::<Utc>::from_timestamp(s, 0);
        Window::new(at(first)?, at(last)?).ok()
    }

    /// Whether `w` is exactly one aligned window of this resolution.
    pub fn is_aligned(self, w: Window) -> bool {
        self.is_boundary(w.start()) && w.duration() == self.duration()
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Resolution {
    type Err = Error;

    /// `1h`/`hourly` or `1d`/`daily`, as `ETL` settings spell them.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "1h" | "hourly" => Ok(Self::Hourly),
            "1d" | "daily" => Ok(Self::Daily),
            other => Err(Error::InvalidResolution {
                input: other.to_owned(),
            }),
        }
    }
}

/// Where a file lives and what it holds.
///
/// Construct with [`EtlKey::new`] (or [`EtlKey::parse`]), which check that
/// the cluster id is safe in a path and the window aligned; the fields are
/// public for reading and matching.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EtlKey {
    /// Cluster id, one path segment.
    pub cluster: String,
    /// Hourly or daily.
    pub resolution: Resolution,
    /// Exactly one aligned window of `resolution`.
    pub window: Window,
}

impl EtlKey {
    /// A key for `cluster`'s `window` at `resolution`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidClusterId`] when the cluster id cannot be a path
    /// segment: empty, `.` or `..`, or longer than 255 bytes once escaped
    /// ([module docs](self)). [`Error::InvalidWindow`] when `window` is not
    /// one aligned window of `resolution`, or starts before 1970 (paths
    /// carry unsigned Unix seconds).
    pub fn new(cluster: impl Into<String>, resolution: Resolution, window: Window) -> Result<Self> {
        let cluster = cluster.into();
        check_cluster(&cluster)?;
        if !resolution.is_aligned(window) {
            return Err(Error::InvalidWindow {
                input: window.to_string(),
                reason: format!("not one aligned {resolution} window (UTC)"),
            });
        }
        if window.start().timestamp() < 0 {
            return Err(Error::InvalidWindow {
                input: window.to_string(),
                reason: "ETL keys start at or after 1970-01-01T00:00:00Z".to_owned(),
            });
        }
        Ok(Self {
            cluster,
            resolution,
            window,
        })
    }

    /// `allocations/resolution=<1d|1h>/cluster=<id>/day=<YYYY-MM-DD>/<startUnix>-<endUnix>.parquet`,
    /// the day being the window's start (UTC).
    pub fn path(&self) -> String {
        format!(
            "{}day={}/{}",
            cluster_prefix(&self.cluster, self.resolution),
            self.window.start().format("%Y-%m-%d"),
            self.file_name()
        )
    }

    /// `<startUnix>-<endUnix>.parquet`: the file's name in either layout.
    fn file_name(&self) -> String {
        format!(
            "{}-{}{EXTENSION}",
            self.window.start().timestamp(),
            self.window.end().timestamp()
        )
    }

    /// Where costetl before schema version 2 kept this key's file:
    /// `federated/<id>/etl/parquet/allocations/<1d|1h>/<startUnix>-<endUnix>.parquet`.
    pub fn legacy_path(&self) -> String {
        format!(
            "{LEGACY_ROOT}{}/{LEGACY_PIPELINE}/{}/{}",
            encode_cluster(&self.cluster),
            self.resolution,
            self.file_name()
        )
    }

    /// Where the old layout kept this key's file (`false`) or its pending
    /// marker (`true`).
    pub fn legacy_object(&self, marker: bool) -> String {
        let path = self.legacy_path();
        if marker {
            format!("{}{PENDING}", &path[..path.len() - EXTENSION.len()])
        } else {
            path
        }
    }

    /// `_<startUnix>-<endUnix>.pending` beside [`Self::path`]: a writer
    /// marks every cluster of a window this way before writing any of their
    /// files, and clears each mark once its file is stored, so a marker
    /// without its file is a build that was interrupted (a crash, a failed
    /// write), found by the next sync even where no other file of the
    /// cluster says it should exist. The leading `_` hides it from Hive,
    /// Spark, Trino and Athena, which read every other file of a partition.
    pub fn pending_path(&self) -> String {
        let path = self.path();
        let (dir, file) = path.rsplit_once('/').unwrap_or(("", &path));
        let stem = &file[..file.len() - EXTENSION.len()];
        format!("{dir}/{HIDDEN}{stem}{PENDING}")
    }

    /// The key a [`Self::pending_path`] names; `None` for any other path.
    pub fn parse_pending(path: &str) -> Option<Self> {
        let (dir, file) = path.rsplit_once('/')?;
        let stem = file.strip_prefix(HIDDEN)?.strip_suffix(PENDING)?;
        Self::parse(&format!("{dir}/{stem}{EXTENSION}"))
    }

    /// The inverse of [`Self::path`]; `None` for any other path, including
    /// non-canonical spellings (leading zeros, `hourly`, a day that is not
    /// the window's), so that listings skip foreign files and
    /// `parse(p).path() == p` always holds.
    pub fn parse(path: &str) -> Option<Self> {
        let rest = path.strip_prefix(ALLOCATIONS_ROOT)?;
        let (res, rest) = rest.split_once('/')?;
        let resolution = resolution_segment(res.strip_prefix("resolution=")?)?;
        let (segment, rest) = rest.split_once('/')?;
        let cluster = cluster_of_partition(segment)?;
        let (_day, file) = rest.split_once('/')?;
        let key = Self::from_file_name(cluster, resolution, file)?;
        (key.path() == path).then_some(key)
    }

    /// The inverse of [`Self::legacy_path`] (a file), or of its pending
    /// marker (`true`); `None` for any other path.
    pub fn parse_legacy(path: &str) -> Option<(Self, bool)> {
        let rest = path.strip_prefix(LEGACY_ROOT)?;
        let (segment, rest) = rest.split_once('/')?;
        let cluster = decode_cluster(segment)?;
        let rest = rest.strip_prefix(LEGACY_PIPELINE)?.strip_prefix('/')?;
        let (res, file) = rest.split_once('/')?;
        let resolution = resolution_segment(res)?;
        if let Some(stem) = file.strip_suffix(PENDING) {
            let name = format!("{stem}{EXTENSION}");
            return Some((Self::from_file_name(cluster, resolution, &name)?, true));
        }
        Some((Self::from_file_name(cluster, resolution, file)?, false))
    }

    /// The key of `cluster`'s file named `<startUnix>-<endUnix>.parquet`
    /// (canonical numbers only) at `resolution`.
    fn from_file_name(cluster: String, resolution: Resolution, file: &str) -> Option<Self> {
        let (start, end) = file.strip_suffix(EXTENSION)?.split_once('-')?;
        let start = DateTime::from_timestamp(unix_seconds(start)?, 0)?;
        let end = DateTime::from_timestamp(unix_seconds(end)?, 0)?;
        let window = Window::new(start, end).ok()?;
        Self::new(cluster, resolution, window).ok()
    }
}

/// `1h` or `1d` as paths spell them (never `hourly`, `daily`).
fn resolution_segment(segment: &str) -> Option<Resolution> {
    match segment {
        "1h" => Some(Resolution::Hourly),
        "1d" => Some(Resolution::Daily),
        _ => None,
    }
}

impl fmt::Display for EtlKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.cluster, self.resolution, self.window)
    }
}

/// `allocations/resolution=<res>/`: the location of one resolution's table,
/// and the listing prefix of its cluster partitions.
pub fn resolution_prefix(resolution: Resolution) -> String {
    format!("{ALLOCATIONS_ROOT}resolution={resolution}/")
}

/// `allocations/resolution=<res>/cluster=<id>/`: the listing prefix of one
/// cluster's files at one resolution (the cluster escaped).
pub fn cluster_prefix(cluster: &str, resolution: Resolution) -> String {
    format!(
        "{}cluster={}/",
        resolution_prefix(resolution),
        encode_cluster(cluster)
    )
}

/// `federated/<segment>/etl/parquet/allocations/`: where the old layout
/// kept the files of the cluster directory `segment` (as listed, escaped).
pub fn legacy_cluster_prefix(segment: &str) -> String {
    format!("{LEGACY_ROOT}{segment}/{LEGACY_PIPELINE}/")
}

/// The cluster a `cluster=<id>` partition directory names, if canonical.
pub fn cluster_of_partition(segment: &str) -> Option<String> {
    decode_cluster(segment.strip_prefix("cluster=")?)
}

/// Whether `c` is escaped in a cluster segment: what a path cannot hold
/// (separators, control characters) and the escape character itself.
fn escaped(c: char) -> bool {
    c.is_ascii_control() || matches!(c, '/' | '\\' | '%')
}

/// `cluster` as one path segment ([module docs](self)).
///
/// Written here rather than with `percent-encoding`'s `utf8_percent_encode`,
/// which always escapes non-ASCII bytes: Hive and Spark unescape `%XX` one
/// character at a time, so an escaped UTF-8 byte would come back as a
/// different character.
pub fn encode_cluster(cluster: &str) -> String {
    let mut out = String::with_capacity(cluster.len());
    for c in cluster.chars() {
        if escaped(c) {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The cluster id a path segment names, if the segment is its canonical
/// escape ([`encode_cluster`]), so one cluster has one directory.
pub fn decode_cluster(segment: &str) -> Option<String> {
    let cluster = percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()?
        .into_owned();
    (encode_cluster(&cluster) == segment).then_some(cluster)
}

/// Canonical unsigned decimal seconds: digits only, no leading zero (so one
/// window has one path).
fn unix_seconds(s: &str) -> Option<i64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

fn check_cluster(cluster: &str) -> Result<()> {
    let segment = encode_cluster(cluster);
    let reason = if cluster.is_empty() {
        "it is empty".to_owned()
    } else if cluster == "." || cluster == ".." {
        "it is a relative path segment".to_owned()
    } else if segment.len() > MAX_SEGMENT_BYTES {
        format!(
            "escaped for a path it is {} bytes long; at most {MAX_SEGMENT_BYTES} are allowed",
            segment.len()
        )
    } else {
        return Ok(());
    };
    Err(Error::InvalidClusterId {
        cluster: cluster.to_owned(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn w(a: &str, b: &str) -> Window {
        Window::new(t(a), t(b)).unwrap()
    }

    fn day() -> Window {
        w("2023-11-15T00:00:00Z", "2023-11-16T00:00:00Z")
    }

    #[test]
    fn resolution_strings() {
        for (s, r) in [
            ("1h", Resolution::Hourly),
            ("hourly", Resolution::Hourly),
            ("1d", Resolution::Daily),
            (" daily ", Resolution::Daily),
        ] {
            assert_eq!(s.parse::<Resolution>().unwrap(), r, "{s}");
        }
        assert_eq!(Resolution::Hourly.as_str(), "1h");
        assert_eq!(Resolution::Daily.to_string(), "1d");
        let e = "1w".parse::<Resolution>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown ETL resolution \"1w\": expected 1h, 1d, hourly or daily"
        );
        // The meta's JSON spelling is the path's, and the long names read.
        assert_eq!(serde_json::to_string(&Resolution::Daily).unwrap(), "\"1d\"");
        let r: Resolution = serde_json::from_str("\"hourly\"").unwrap();
        assert_eq!(r, Resolution::Hourly);
    }

    #[test]
    fn windows_of_an_aligned_range() {
        let range = w("2023-11-15T00:00:00Z", "2023-11-18T00:00:00Z");
        let days = Resolution::Daily.windows(range).unwrap();
        assert_eq!(
            days,
            vec![
                w("2023-11-15T00:00:00Z", "2023-11-16T00:00:00Z"),
                w("2023-11-16T00:00:00Z", "2023-11-17T00:00:00Z"),
                w("2023-11-17T00:00:00Z", "2023-11-18T00:00:00Z"),
            ]
        );
        assert!(days.iter().all(|d| Resolution::Daily.is_aligned(*d)));
        let hours = Resolution::Hourly.windows(range).unwrap();
        assert_eq!(hours.len(), 72);
        assert_eq!(hours[1], w("2023-11-15T01:00:00Z", "2023-11-15T02:00:00Z"));
        assert!(hours.iter().all(|h| Resolution::Hourly.is_aligned(*h)));
        let empty = w("2023-11-15T00:00:00Z", "2023-11-15T00:00:00Z");
        assert_eq!(Resolution::Daily.windows(empty).unwrap(), vec![]);
    }

    #[test]
    fn windows_reject_unaligned_ends() {
        let late_start = w("2023-11-15T01:00:00Z", "2023-11-17T00:00:00Z");
        let e = Resolution::Daily.windows(late_start).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidWindow { reason, .. } if reason == "start is not aligned to 1d (UTC)"),
            "{e}"
        );
        let odd_end = w("2023-11-15T00:00:00Z", "2023-11-15T10:30:00Z");
        let e = Resolution::Hourly.windows(odd_end).unwrap_err();
        assert!(e.to_string().contains("end is not aligned to 1h"), "{e}");
        // Sub-second offsets are not aligned either.
        let nanos = Window::new(
            t("2023-11-15T00:00:00Z") + TimeDelta::nanoseconds(1),
            t("2023-11-15T01:00:00Z"),
        )
        .unwrap();
        assert!(Resolution::Hourly.windows(nanos).is_err());
    }

    #[test]
    fn inner_rounds_inwards() {
        let r = w("2023-11-15T06:30:00Z", "2023-11-18T01:00:00Z");
        assert_eq!(
            Resolution::Daily.inner(r),
            Some(w("2023-11-16T00:00:00Z", "2023-11-18T00:00:00Z"))
        );
        assert_eq!(
            Resolution::Hourly.inner(r),
            Some(w("2023-11-15T07:00:00Z", "2023-11-18T01:00:00Z"))
        );
        let aligned = w("2023-11-15T00:00:00Z", "2023-11-17T00:00:00Z");
        assert_eq!(Resolution::Daily.inner(aligned), Some(aligned));
        let sub_second =
            Window::new(aligned.start() + TimeDelta::milliseconds(1), aligned.end()).unwrap();
        assert_eq!(
            Resolution::Daily.inner(sub_second),
            Some(w("2023-11-16T00:00:00Z", "2023-11-17T00:00:00Z"))
        );
        let today = w("2023-11-15T00:00:00Z", "2023-11-15T13:00:00Z");
        assert_eq!(Resolution::Daily.inner(today), None);
        let before_epoch = w("1969-12-30T12:00:00Z", "1970-01-01T00:00:00Z");
        assert_eq!(
            Resolution::Daily.inner(before_epoch),
            Some(w("1969-12-31T00:00:00Z", "1970-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn is_aligned_needs_one_whole_window() {
        assert!(Resolution::Daily.is_aligned(day()));
        assert!(!Resolution::Hourly.is_aligned(day()));
        assert!(!Resolution::Daily.is_aligned(w("2023-11-15T00:00:00Z", "2023-11-17T00:00:00Z")));
        assert!(!Resolution::Daily.is_aligned(w("2023-11-15T01:00:00Z", "2023-11-16T01:00:00Z")));
        // Before the epoch, alignment still counts from the epoch.
        assert!(Resolution::Daily.is_aligned(w("1969-12-31T00:00:00Z", "1970-01-01T00:00:00Z")));
    }

    #[test]
    fn key_path_and_parse_round_trip() {
        let k = EtlKey::new("cluster-one", Resolution::Daily, day()).unwrap();
        let p = k.path();
        assert_eq!(
            p,
            "allocations/resolution=1d/cluster=cluster-one/day=2023-11-15/\
             1700006400-1700092800.parquet"
        );
        assert!(p.starts_with(&cluster_prefix("cluster-one", Resolution::Daily)));
        assert!(p.starts_with(&resolution_prefix(Resolution::Daily)));
        assert!(p.starts_with(ALLOCATIONS_ROOT));
        assert_eq!(EtlKey::parse(&p), Some(k));

        // Hourly files sit under their UTC day.
        let hour = w("2023-11-15T23:00:00Z", "2023-11-16T00:00:00Z");
        // Colons (as in cluster ARNs) are path-safe; the ARN's '/' is not.
        let k = EtlKey::new(
            "arn:aws:eks:eu-west-1:1:cluster_x",
            Resolution::Hourly,
            hour,
        )
        .unwrap();
        assert_eq!(
            k.path(),
            "allocations/resolution=1h/cluster=arn:aws:eks:eu-west-1:1:cluster_x/day=2023-11-15/\
             1700089200-1700092800.parquet"
        );
        assert_eq!(EtlKey::parse(&k.path()), Some(k));
        let epoch = w("1970-01-01T00:00:00Z", "1970-01-01T01:00:00Z");
        let k = EtlKey::new("c", Resolution::Hourly, epoch).unwrap();
        assert!(
            k.path().ends_with("/day=1970-01-01/0-3600.parquet"),
            "{}",
            k.path()
        );
        assert_eq!(EtlKey::parse(&k.path()), Some(k));
    }

    #[test]
    fn parse_rejects_foreign_and_non_canonical_paths() {
        let good =
            "allocations/resolution=1d/cluster=c/day=2023-11-15/1700006400-1700092800.parquet";
        assert!(EtlKey::parse(good).is_some());
        for bad in [
            "",
            "allocations/",
            // The day must be the window's, spelled one way.
            "allocations/resolution=1d/cluster=c/day=2023-11-16/1700006400-1700092800.parquet",
            "allocations/resolution=1d/cluster=c/day=2023-11-5/1700006400-1700092800.parquet",
            "allocations/resolution=1d/cluster=c/date=2023-11-15/1700006400-1700092800.parquet",
            "allocations/resolution=1d/cluster=c/1700006400-1700092800.parquet",
            "allocations/resolution=1d/cluster=c/day=2023-11-15/x/1700006400-1700092800.parquet",
            // Other resolutions, spellings and partitions.
            "allocations/resolution=1w/cluster=c/day=2023-11-15/1700006400-1700092800.parquet",
            "allocations/resolution=daily/cluster=c/day=2023-11-15/1700006400-1700092800.parquet",
            "allocations/1d/cluster=c/day=2023-11-15/1700006400-1700092800.parquet",
            "allocations/resolution=1d/c/day=2023-11-15/1700006400-1700092800.parquet",
            "allocations/resolution=1d/cluster=/day=2023-11-15/1700006400-1700092800.parquet",
            "allocations/resolution=1d/cluster=../day=2023-11-15/1700006400-1700092800.parquet",
            "allocations/resolution=1d/cluster=a%2fb/day=2023-11-15/1700006400-1700092800.parquet",
            "assets/resolution=1d/cluster=c/day=2023-11-15/1700006400-1700092800.parquet",
            // Other files and non-canonical numbers.
            "allocations/resolution=1d/cluster=c/day=2023-11-15/1700006400-1700092800.json",
            "allocations/resolution=1d/cluster=c/day=2023-11-15/1700006400-1700092800.parquet.tmp",
            "allocations/resolution=1d/cluster=c/day=2023-11-15/01700006400-1700092800.parquet",
            "allocations/resolution=1d/cluster=c/day=2023-11-15/1700006401-1700092801.parquet",
            "allocations/resolution=1h/cluster=c/day=2023-11-15/1700006400-1700092800.parquet",
            // The legacy layout is not this one.
            "federated/c/etl/parquet/allocations/1d/1700006400-1700092800.parquet",
        ] {
            assert_eq!(EtlKey::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn legacy_paths_parse_for_migration() {
        let key = EtlKey::new("a/b", Resolution::Daily, day()).unwrap();
        let legacy = key.legacy_path();
        assert_eq!(
            legacy,
            "federated/a%2Fb/etl/parquet/allocations/1d/1700006400-1700092800.parquet"
        );
        assert_eq!(EtlKey::parse_legacy(&legacy), Some((key.clone(), false)));
        let marker = legacy.replace(".parquet", ".pending");
        assert_eq!(EtlKey::parse_legacy(&marker), Some((key.clone(), true)));
        assert_eq!(key.legacy_object(true), marker);
        assert_eq!(key.legacy_object(false), legacy);
        for bad in [
            "federated/c/etl/bingen/allocations/1d/1700006400-1700092800",
            "federated/c/etl/parquet/allocations/daily/1700006400-1700092800.parquet",
            "federated/c/etl/parquet/allocations/1d/01700006400-1700092800.parquet",
            "federated/c/etl/parquet/allocations/1h/1700006400-1700092800.parquet",
            "federated/../etl/parquet/allocations/1d/1700006400-1700092800.parquet",
            &key.path(),
        ] {
            assert_eq!(EtlKey::parse_legacy(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn pending_markers_sit_beside_their_file() {
        let key = EtlKey::new("a/b", Resolution::Daily, day()).unwrap();
        let p = key.pending_path();
        assert_eq!(
            p,
            "allocations/resolution=1d/cluster=a%2Fb/day=2023-11-15/_1700006400-1700092800.pending"
        );
        assert_eq!(EtlKey::parse_pending(&p), Some(key.clone()));
        assert_eq!(EtlKey::parse(&p), None);
        assert_eq!(EtlKey::parse_pending(&key.path()), None);
        let unhidden = p.replace("/_1700006400", "/1700006400");
        assert_eq!(EtlKey::parse_pending(&unhidden), None);
    }

    #[test]
    fn cluster_ids_with_separators_are_escaped() {
        let arn = "arn:aws:eks:us-east-1:123456789012:cluster/prod";
        let key = EtlKey::new(arn, Resolution::Daily, day()).unwrap();
        let path = key.path();
        assert_eq!(
            path,
            "allocations/resolution=1d/cluster=arn:aws:eks:us-east-1:123456789012:cluster%2Fprod/\
             day=2023-11-15/1700006400-1700092800.parquet"
        );
        assert_eq!(EtlKey::parse(&path), Some(key));
        for id in ["a/b", "a\\b", "a\nb", "100%", "é-ü 東京", "x=y?#'*[]{}^\""] {
            let seg = encode_cluster(id);
            assert!(
                !seg.contains('/') && !seg.chars().any(|c| c.is_control()),
                "{seg}"
            );
            assert_eq!(decode_cluster(&seg).as_deref(), Some(id), "{seg}");
            assert_eq!(
                cluster_of_partition(&format!("cluster={seg}")).as_deref(),
                Some(id)
            );
        }
        // Non-ASCII stays as it is (Hive unescapes one character per %XX).
        assert_eq!(encode_cluster("é"), "é");
        // One cluster, one directory: non-canonical escapes are foreign.
        assert_eq!(decode_cluster("%41"), None);
        assert_eq!(decode_cluster("a%2fb"), None);
        assert_eq!(decode_cluster("a/b"), None);
        assert_eq!(decode_cluster("%FF"), None);
        assert_eq!(cluster_of_partition("c"), None);
    }

    #[test]
    fn new_rejects_unsafe_cluster_ids() {
        let long = "x".repeat(256);
        let slashes = "/".repeat(86);
        for (cluster, reason) in [
            ("", "it is empty"),
            (".", "it is a relative path segment"),
            ("..", "it is a relative path segment"),
            (
                &long,
                "escaped for a path it is 256 bytes long; at most 255 are allowed",
            ),
            (
                &slashes,
                "escaped for a path it is 258 bytes long; at most 255 are allowed",
            ),
        ] {
            let e = EtlKey::new(cluster, Resolution::Daily, day()).unwrap_err();
            assert_eq!(
                e,
                Error::InvalidClusterId {
                    cluster: cluster.to_owned(),
                    reason: reason.to_owned()
                },
                "{cluster:?}"
            );
        }
        // The limit is inclusive, and dots inside a name are fine.
        assert!(EtlKey::new("x".repeat(253), Resolution::Daily, day()).is_ok());
        assert!(EtlKey::new("...", Resolution::Daily, day()).is_ok());
        assert!(EtlKey::new("prod.eu-1", Resolution::Daily, day()).is_ok());
    }

    #[test]
    fn new_rejects_unaligned_windows() {
        let e = EtlKey::new("c", Resolution::Hourly, day()).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidWindow { reason, .. } if reason == "not one aligned 1h window (UTC)"),
            "{e}"
        );
        let shifted = w("2023-11-15T06:00:00Z", "2023-11-16T06:00:00Z");
        assert!(EtlKey::new("c", Resolution::Daily, shifted).is_err());
        let before_epoch = w("1969-12-31T00:00:00Z", "1970-01-01T00:00:00Z");
        let e = EtlKey::new("c", Resolution::Daily, before_epoch).unwrap_err();
        assert!(e.to_string().contains("after 1970"), "{e}");
    }
}
