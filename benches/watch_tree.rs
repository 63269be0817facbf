//! Start-up cost of the watcher on a big tree: 100,000 tracked files in ~11,100 directories,
//! plus ignored `target/` and `node_modules/` trees that must cost nothing.
//!
//! `cargo bench --bench watch_tree` (set `WATCH_TREE_DIR` to build the tree elsewhere than the
//! system temp dir). Prints: time for `Watcher::start` to return and for the background baseline
//! to complete, watched directories, RSS, process CPU time over 2 s idle, and change → ChangeSet
//! latency with the default 10 ms debounce.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hot::watch::{WatchConfig, Watcher};

fn write(path: &Path, content: &str) {
    fs::write(path, content).unwrap();
}

/// 110 top dirs × 100 leaf dirs, 9 files per leaf and 10 per top dir: 100,000 files.
fn build(root: &Path) -> (usize, usize) {
    let (mut dirs, mut files) = (0, 0);
    write(&root.join(".gitignore"), "target/\nnode_modules/\n");
    for t in 0..110 {
        let top = root.join(format!("src/m{t}"));
        for l in 0..100 {
            let leaf = top.join(format!("l{l}"));
            fs::create_dir_all(&leaf).unwrap();
            dirs += 1;
            for f in 0..9 {
                write(&leaf.join(format!("f{f}.rs")), "pub fn f() -> u32 { 42 }\n");
                files += 1;
            }
        }
        dirs += 1;
        for f in 0..10 {
            write(&top.join(format!("g{f}.rs")), "pub fn g() {}\n");
            files += 1;
        }
    }
    // Ignored trees: 30,000 files in 3,000 directories.
    for (name, n) in [("target/debug/deps", 2000), ("node_modules", 1000)] {
        for d in 0..n {
            let dir = root.join(format!("{name}/p{d}"));
            fs::create_dir_all(&dir).unwrap();
            for f in 0..10 {
                write(&dir.join(format!("x{f}.rs")), "ignored");
            }
        }
    }
    (dirs + 1, files)
}

fn status(field: &str) -> String {
    let s = fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .map(|l| l[field.len()..].trim().to_string())
        .unwrap_or_else(|| "?".into())
}

/// utime + stime of this process, in clock ticks (100 Hz on Linux).
fn cpu_ticks() -> u64 {
    let s = fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`, which may contain spaces.
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15; `rest` starts at field 3.
    let get = |i: usize| {
        f.get(i - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(14) + get(15)
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let base = std::env::var_os("WATCH_TREE_DIR").map(std::path::PathBuf::from);
    let tmp = match &base {
        Some(b) => tempfile::tempdir_in(b).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let root = tmp.path().to_path_buf();
    let t = Instant::now();
    let (dirs, files) = build(&root);
    println!(
        "tree: {files} tracked files in {dirs} dirs (+30,000 ignored files in 3,000+ dirs), built in {:.1?}",
        t.elapsed()
    );

    // Files changed within 3 s before start get no background baseline (the ctime margin): let
    // the fresh tree age past it, as a real checkout has, so every file is hashed.
    std::thread::sleep(Duration::from_secs(3));
    let rss_before = status("VmRSS:");
    let mut config = WatchConfig::new(&root);
    config.relevant = Arc::new(|p: &Path| p.extension().is_some_and(|e| e == "rs"));
    config.always = vec!["Hotfile".into()];
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let t = Instant::now();
    let watcher = Watcher::start(config, tx).unwrap();
    let start = t.elapsed();
    println!(
        "Watcher::start returned in {start:.1?} (walk + {} watches; {files} files hashed in the background)",
        watcher.watched_dirs()
    );
    println!("watched dirs: {}", watcher.watched_dirs());
    let rss_start = status("VmRSS:");
    while !watcher.baseline_ready() {
        std::thread::sleep(Duration::from_millis(1));
    }
    println!("baseline complete {:.1?} after start", t.elapsed());
    println!(
        "RSS: {rss_before} before start, {rss_start} when start returned, {} with the baseline complete",
        status("VmRSS:")
    );

    let c0 = cpu_ticks();
    std::thread::sleep(Duration::from_secs(2));
    let c1 = cpu_ticks();
    println!("CPU over 2 s idle: {} ms", (c1 - c0) * 10);

    // change -> ChangeSet latency, default 10 ms debounce.
    let mut lat = vec![];
    for i in 0..40 {
        let p = root.join(format!("src/m{}/l{}/f0.rs", i % 110, i % 100));
        let t = Instant::now();
        write(&p, &format!("pub fn f() -> u32 {{ {i} }}\n"));
        let cs = rx.blocking_recv().unwrap();
        lat.push(t.elapsed());
        assert_eq!(cs.paths.len(), 1);
        std::thread::sleep(Duration::from_millis(30));
    }
    lat.sort();
    println!(
        "change -> ChangeSet latency (debounce 10 ms, n=40): median {:.1?}, p90 {:.1?}, max {:.1?}",
        lat[lat.len() / 2],
        lat[lat.len() * 9 / 10],
        lat[lat.len() - 1]
    );

    // A git-checkout-like burst: rewrite 5,000 files as fast as possible.
    let t = Instant::now();
    for i in 0..5000 {
        let p = root.join(format!(
            "src/m{}/l{}/f{}.rs",
            i % 110,
            (i / 110) % 100,
            i % 9
        ));
        write(&p, &format!("// burst {i}\n"));
    }
    let wrote = t.elapsed();
    let mut waves = vec![];
    while let Ok(Some(cs)) = {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async { tokio::time::timeout(Duration::from_millis(500), rx.recv()).await })
    } {
        waves.push(cs.paths.len());
    }
    println!("5,000-file burst written in {wrote:.1?}: waves {waves:?}");
    drop(watcher);

    // The same tree with nothing relevant: walk + watches alone, no hashing.
    let mut config = WatchConfig::new(&root);
    config.relevant = Arc::new(|_: &Path| false);
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let t = Instant::now();
    let watcher = Watcher::start(config, tx).unwrap();
    println!(
        "Watcher::start with nothing relevant (walk + {} watches, no hashing): {:.1?}",
        watcher.watched_dirs(),
        t.elapsed()
    );
}
