//! Human and spreadsheet output of [`Report`]s: an aligned text table and
//! CSV. (OpenCost JSON comes from `costetl_core::json`.)
//!
//! Costs are totals including reconciliation adjustments, as in OpenCost's
//! `cpuTotalCost` & co.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use costetl_core::{Allocation, properties::MetadataMerge};

use costetl_core::Report;

/// Dollars with 2 decimals, rounding halves away from zero (85.375 →
/// 85.38), and never `-0.00`.
pub fn money(x: f64) -> String {
    let rounded = (x * 100.0).round() / 100.0 + 0.0;
    format!("{rounded:.2}")
}

/// A ratio as a percentage with one decimal (0.5 → `50.0%`).
pub fn percent(x: f64) -> String {
    let rounded = (x * 1000.0).round() / 10.0 + 0.0;
    format!("{rounded:.1}%")
}

fn row(a: &Allocation, name: &str, with_external: bool) -> Vec<String> {
    let mut r = vec![
        name.to_owned(),
        money(a.cpu_total_cost()),
        money(a.gpu_total_cost()),
        money(a.ram_total_cost()),
        money(a.pv_total_cost()),
        money(a.network_total_cost()),
        money(a.load_balancer_total_cost()),
        money(a.shared_cost),
    ];
    if with_external {
        r.push(money(a.external_cost));
    }
    r.extend([
        money(a.total_cost()),
        percent(a.cpu_efficiency()),
        percent(a.ram_efficiency()),
        percent(a.total_efficiency()),
    ]);
    r
}

/// Lay out rows with column widths from their content: the first column
/// left-aligned, the others right-aligned, two spaces between columns.
fn layout(rows: &[Vec<String>], out: &mut String) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            let w = widths[c];
            if c == 0 {
                let _ = write!(line, "{cell:<w$}");
            } else {
                let _ = write!(line, "  {cell:>w$}");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// One table per report: a window header, the allocations by total cost
/// (highest first), a TOTAL row, and what the filter removed if anything.
///
/// The TOTAL row's efficiencies are those of all rows merged (as
/// aggregating everything would give), so idle counts as unused capacity.
/// An EXTERNAL $ column appears only when some allocation has external
/// cost; TOTAL $ always includes it.
pub fn table(reports: &[Report]) -> String {
    let mut out = String::new();
    for (i, r) in reports.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let w = r.set.window();
        let _ = writeln!(out, "Window {w} ({})", w.duration_string());
        let mut allocs: Vec<&Allocation> = r.set.iter().collect();
        if allocs.is_empty() {
            out.push_str("(no allocations)\n");
        } else {
            allocs.sort_by(|a, b| {
                b.total_cost()
                    .total_cmp(&a.total_cost())
                    .then_with(|| a.name.cmp(&b.name))
            });
            let with_external = allocs.iter().any(|a| a.external_cost != 0.0);
            let mut header: Vec<String> = [
                "NAME",
                "CPU $",
                "GPU $",
                "RAM $",
                "PV $",
                "NETWORK $",
                "LB $",
                "SHARED $",
            ]
            .map(String::from)
            .to_vec();
            if with_external {
                header.push("EXTERNAL $".into());
            }
            header.extend(["TOTAL $", "CPU EFF", "RAM EFF", "TOTAL EFF"].map(String::from));
            let mut rows = vec![header];
            let mut total = allocs[0].clone();
            for a in &allocs[1..] {
                total.add(a, MetadataMerge::Drop);
            }
            rows.extend(allocs.iter().map(|a| {
                // `--aggregate all` names its one bucket "" (as OpenCost does).
                let name = if a.name.is_empty() { "(all)" } else { &a.name };
                row(a, name, with_external)
            }));
            rows.push(row(&total, "TOTAL", with_external));
            layout(&rows, &mut out);
        }
        let filtered = r.filtered_out.total_cost();
        if filtered != 0.0 {
            let _ = writeln!(
                out,
                "filtered out: ${} (idle and shared cost included)",
                money(filtered)
            );
        }
    }
    out
}

/// Quote a CSV field if it holds a comma, quote or line break (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The CSV header.
pub const CSV_HEADER: &str = "window_start,window_end,name,cluster,node,namespace,\
controller_kind,controller,pod,container,start,end,minutes,cpu_core_hours,cpu_cost,\
gpu_hours,gpu_cost,ram_byte_hours,ram_cost,pv_byte_hours,pv_cost,network_cost,\
load_balancer_cost,shared_cost,external_cost,total_cost,cpu_efficiency,ram_efficiency,\
gpu_efficiency,total_efficiency";

/// A header, then one row per allocation per report, in window then name
/// order. Numbers are unrounded (shortest exact form); efficiencies are
/// ratios (1 = 100%).
pub fn csv(reports: &[Report]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for r in reports {
        let w = r.set.window();
        for a in r.set.iter() {
            let p = &a.properties;
            let text = [
                time(w.start()),
                time(w.end()),
                a.name.clone(),
                p.cluster.to_string(),
                p.node.to_string(),
                p.namespace.to_string(),
                p.controller_kind.to_string(),
                p.controller.to_string(),
                p.pod.to_string(),
                p.container.to_string(),
                time(a.start),
                time(a.end),
            ];
            let nums = [
                a.minutes(),
                a.cpu_core_hours,
                a.cpu_total_cost(),
                a.gpu_hours,
                a.gpu_total_cost(),
                a.ram_byte_hours,
                a.ram_total_cost(),
                a.pv_byte_hours(),
                a.pv_total_cost(),
                a.network_total_cost(),
                a.load_balancer_total_cost(),
                a.shared_cost,
                a.external_cost,
                a.total_cost(),
                a.cpu_efficiency(),
                a.ram_efficiency(),
                a.gpu_efficiency(),
                a.total_efficiency(),
            ];
            let fields: Vec<String> = text
                .iter()
                .map(|s| csv_field(s))
                .chain(nums.iter().map(|n| n.to_string()))
                .collect();
            out.push_str(&fields.join(","));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use costetl_core::testing::mock_set;

    fn report() -> Report {
        let set = mock_set(Utc.with_ymd_and_hms(2021, 1, 1, 0, 0, 0).unwrap());
        let w = set.window();
        Report {
            set,
            filtered_out: Allocation::new("__filtered__", w),
        }
    }

    #[test]
    fn money_and_percent() {
        assert_eq!(money(85.375), "85.38");
        assert_eq!(money(-0.001), "0.00");
        assert_eq!(money(1234.5), "1234.50");
        assert_eq!(percent(0.5), "50.0%");
        assert_eq!(percent(1.0), "100.0%");
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn csv_rows() {
        let text = csv(&[report()]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 13);
        let cols = CSV_HEADER.split(',').count();
        assert!(lines.iter().all(|l| l.split(',').count() == cols));
    }

    #[test]
    fn table_sorted_with_total() {
        let text = table(&[report()]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("Window [2021-01-01T00:00:00Z, 2021-01-02T00:00:00Z)"));
        assert!(lines[1].starts_with("NAME"));
        // container1 has RAM 11, so the highest total (16).
        assert!(lines[2].starts_with("cluster1/namespace1/pod1/container1"));
        assert!(lines[2].ends_with("100.0%"));
        let total = lines.last().unwrap();
        assert!(total.starts_with("TOTAL"));
        assert!(total.contains("82.00"));
        // Every row has the same width: columns are aligned.
        let header_len = lines[1].len();
        assert!(lines[2..].iter().all(|l| l.len() == header_len));
        assert!(!text.contains("filtered out"));
    }

    #[test]
    fn table_reports_filtered() {
        let mut r = report();
        r.filtered_out.cpu_cost = 3.0;
        assert!(table(&[r]).contains("filtered out: $3.00 (idle and shared cost included)"));
    }
}
