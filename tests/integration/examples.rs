use std::path::Path;

use crate::support::HOT;

/// Every Hotfile the repository ships (the example projects and `Hotfile.example`) is sound.
#[test]
fn every_shipped_hotfile_passes_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut hotfiles = vec![root.join("Hotfile.example")];
    for entry in std::fs::read_dir(root.join("examples")).unwrap() {
        let path = entry.unwrap().path().join("Hotfile");
        if path.exists() {
            hotfiles.push(path);
        }
    }
    assert!(hotfiles.len() >= 2, "{hotfiles:?}");
    for hotfile in hotfiles {
        let output = std::process::Command::new(HOT)
            .arg("-f")
            .arg(&hotfile)
            .arg("check")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}: {}",
            hotfile.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
