//! The build id in `costetl --version`: the commit costetl was built from
//! (`-dirty` with uncommitted changes), or `COSTETL_BUILD_ID` when a
//! packager sets it, or "unknown build" outside a git checkout.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=COSTETL_BUILD_ID");
    for path in [
        "../../.git/HEAD",
        "../../.git/index",
        "../../.git/refs/heads",
    ] {
        println!("cargo:rerun-if-changed={path}");
    }
    let id = std::env::var("COSTETL_BUILD_ID").ok().or_else(git_id);
    let id = id.unwrap_or_else(|| "unknown build".to_owned());
    println!("cargo:rustc-env=COSTETL_BUILD_ID={id}");
}

/// `git describe`'s commit, e.g. `ad8bf82` or `ad8bf82-dirty`.
fn git_id() -> Option<String> {
    let out = Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=10"])
        .output()
        .ok()?;
    let id = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !id.is_empty()).then_some(id)
}
