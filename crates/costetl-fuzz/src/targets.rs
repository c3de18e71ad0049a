//! What each target parses: the inputs costetl takes from outside (backend
//! bodies, files, flags, config). Each returns whether the input was
//! accepted, which the loop uses to keep inputs that reach deeper.

use std::path::PathBuf;
use std::sync::OnceLock;

use chrono::{TimeZone, Utc};
use costetl_core::{Filter, Window, promjson};
use costetl_parquet as etl;

/// One fuzz target.
pub(crate) struct Target {
    /// Its name on the command line and its corpus directory.
    pub(crate) name: &'static str,
    /// Parses one input; `true` when accepted.
    pub(crate) run: fn(&[u8]) -> bool,
}

/// Every target, in the order `all` runs them.
pub(crate) const ALL: &[Target] = &[
    Target {
        name: "promjson",
        run: |d| promjson::decode("fuzz", d).is_ok(),
    },
    Target {
        name: "etl",
        run: |d| {
            let _ = etl::footer_len(d);
            let meta = etl::decode_meta(d).is_ok();
            etl::decode(d).is_ok() || meta
        },
    },
    Target {
        name: "manifest",
        run: manifest,
    },
    Target {
        name: "filter",
        run: |d| Filter::parse(&String::from_utf8_lossy(d)).is_ok(),
    },
    Target {
        name: "window",
        run: |d| {
            let now = Utc.with_ymd_and_hms(2023, 11, 14, 12, 34, 56).unwrap();
            Window::parse_utc(&String::from_utf8_lossy(d), now).is_ok()
        },
    },
    Target {
        name: "prom_config",
        run: |d| {
            toml::from_str::<costetl_prom::PromConfig>(&String::from_utf8_lossy(d))
                .map(|c| c.redacted_url())
                .is_ok()
        },
    },
    Target {
        name: "store_config",
        run: |d| toml::from_str::<costetl_store::StoreConfig>(&String::from_utf8_lossy(d)).is_ok(),
    },
];

/// A fixture directory whose `manifest.json` is the input, beside one body
/// file the manifest may name (`body.json`).
fn manifest(d: &[u8]) -> bool {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory").keep();
        std::fs::write(
            dir.join("body.json"),
            r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
        )
        .expect("writing the body");
        dir
    });
    std::fs::write(dir.join("manifest.json"), d).expect("writing the manifest");
    costetl_fixtures::FixtureSource::open(dir).is_ok()
}
