//! The probe server (`examples/probe.rs`), for every test binary that runs it: plain
//! `cargo test` builds examples with the tests; a filtered run may not, so it is built here
//! once if missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The probe's path, built first if a filtered run did not build it.
pub fn probe() -> PathBuf {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_BIN_EXE_hot"))
                .parent()
                .expect("target/debug");
            let probe = dir.join("examples").join("probe");
            if !probe.exists() {
                let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
                let status = Command::new(cargo)
                    .args(["build", "--example", "probe", "--manifest-path"])
                    .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
                    .status()
                    .expect("run cargo build --example probe");
                assert!(status.success(), "cargo build --example probe failed");
            }
            probe
        })
        .clone()
}
