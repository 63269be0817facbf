//! Property tests: mutated Hotfiles never panic hot and always end in a project or a bounded
//! diagnostic; on random DAGs the graph's answers (order, stale set, `hot why`) hold and agree
//! with what the engine really runs.
//!
//! The case counts keep the whole file well under a minute on a loaded 2-core machine;
//! `PROPTEST_CASES=N` runs N cases of every property instead (the binary's at a tenth).

use std::collections::{BTreeSet, VecDeque};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hot::engine::{Action, Change, Engine, Event, Exit, Mode, Options};
use hot::graph::Graph;
use hot::model::{NodeId, Project};
use proptest::prelude::*;
use proptest::test_runner::Config;

const HOT: &str = env!("CARGO_BIN_EXE_hot");

/// `default` cases, or `PROPTEST_CASES` (divided by `share`) when set.
fn config(default: u32, share: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .map_or(default, |n| (n / share).max(1));
    Config {
        cases,
        // No regression files in the source tree: a failure prints its minimal input.
        failure_persistence: None,
        ..Config::default()
    }
}

/// Valid Hotfiles the mutations start from: every construct of the language.
const SEEDS: &[&str] = &[
    include_str!("../Hotfile.example"),
    r#"// Hotfile
defaults {
    ignore "target/**"
    env RUST_BACKTRACE="1"
    debounce "10ms"
}
task "clippy" {
    watch "src/**/*.rs" "Cargo.toml"
    run "cargo clippy --all-targets -- -D warnings"
}
task "test" {
    watch "src/**/*.rs" "tests/**/*.rs"
    after "clippy"
    run "cargo" "test"
    dir "."
    env RUST_LOG="debug"
    stop signal="SIGINT" timeout="2s"
}
service "serve" {
    after "test"
    socket "http" "127.0.0.1:3000"
    socket "admin" "[::1]:0"
    watch "templates/**"
    ignore "templates/tmp/**"
    run "./target/debug/app"
    ready log="^listening on" timeout="30s"
    stop signal="SIGTERM" timeout="5s"
}
service "worker" { after "clippy"; run "./worker"; ready "notify" }
service "other" { run "sleep 100"; ready delay="300ms" }
"#,
];

/// Characters that trip naive text handling: BOM, direction overrides, NUL, combining
/// marks, line and paragraph separators, NEL, astral emoji, zero-width joiners.
const ODD: &[&str] = &[
    "\u{feff}",
    "\u{202e}",
    "\u{0}",
    "e\u{301}\u{301}\u{301}",
    "\u{2028}",
    "\u{2029}",
    "\u{85}",
    "\u{1f525}",
    "\u{200d}",
    "\u{b}",
    "\u{c}",
    "\r",
    "\u{fffd}",
    "\u{10ffff}",
    "\\",
    "\"",
    "/*",
    "*/",
    "//",
    "#",
    "=",
    ";",
    "{",
    "}",
    "(",
    ")",
    "r#\"",
    "\"#",
    "#true",
    "#null",
    "0x",
    "1e999",
    "-",
    "..",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Remove the bytes in `at..at+len` (proportions of the text).
    Cut(f64, f64),
    /// Copy `from..from+len` to `to`.
    Duplicate(f64, f64, f64),
    /// Swap two whitespace-separated tokens.
    Swap(f64, f64),
    /// Open `depth` blocks (or comments) at `at`, optionally closing them.
    Nest(f64, usize, bool, bool),
    /// A string literal of `len` bytes at `at`.
    Huge(f64, usize),
    /// Raw bytes (often not UTF-8) at `at`.
    Bytes(f64, Vec<u8>),
    /// One of [`ODD`] at `at`.
    Odd(f64, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let p = || 0.0..1.0f64;
    prop_oneof![
        (p(), 0.0..0.3f64).prop_map(|(a, l)| Mutation::Cut(a, l)),
        (p(), 0.0..0.5f64, p()).prop_map(|(f, l, t)| Mutation::Duplicate(f, l, t)),
        (p(), p()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        (p(), 1..400usize, any::<bool>(), any::<bool>())
            .prop_map(|(a, d, c, close)| Mutation::Nest(a, d, c, close)),
        (p(), 1..200_000usize).prop_map(|(a, n)| Mutation::Huge(a, n)),
        (p(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(a, b)| Mutation::Bytes(a, b)),
        (p(), 0..ODD.len()).prop_map(|(a, i)| Mutation::Odd(a, i)),
    ]
}

fn at(text: &[u8], p: f64) -> usize {
    ((text.len() as f64) * p) as usize
}

fn apply(text: &mut Vec<u8>, m: &Mutation) {
    match m {
        Mutation::Cut(a, l) => {
            let start = at(text, *a);
            let end = (start + at(text, *l)).min(text.len());
            text.drain(start..end);
        }
        Mutation::Duplicate(f, l, t) => {
            let start = at(text, *f);
            let end = (start + at(text, *l)).min(text.len());
            let piece = text[start..end].to_vec();
            let to = at(text, *t);
            text.splice(to..to, piece);
        }
        Mutation::Swap(a, b) => {
            let mut tokens: Vec<Vec<u8>> = text
                .split(|c| c.is_ascii_whitespace())
                .map(<[u8]>::to_vec)
                .collect();
            if tokens.len() > 1 {
                let i = ((tokens.len() as f64) * a) as usize % tokens.len();
                let j = ((tokens.len() as f64) * b) as usize % tokens.len();
                tokens.swap(i, j);
            }
            *text = tokens.join(&b' ');
        }
        Mutation::Nest(a, depth, comment, close) => {
            let (open, shut) = if *comment {
                ("/*", "*/")
            } else {
                ("task \"n\" { ", "} ")
            };
            let mut inserted = open.repeat(*depth);
            if *close {
                inserted.push_str(&shut.repeat(*depth));
            }
            let to = at(text, *a);
            text.splice(to..to, inserted.into_bytes());
        }
        Mutation::Huge(a, n) => {
            let to = at(text, *a);
            let literal = format!("\"{}\"", "x".repeat(*n));
            text.splice(to..to, literal.into_bytes());
        }
        Mutation::Bytes(a, bytes) => {
            let to = at(text, *a);
            text.splice(to..to, bytes.iter().copied());
        }
        Mutation::Odd(a, i) => {
            let to = at(text, *a);
            text.splice(to..to, ODD[*i].bytes());
        }
    }
}

/// A mutated Hotfile; shown as (lossy) text when a case fails.
#[derive(Clone)]
struct Input(Vec<u8>);

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = String::from_utf8_lossy(&self.0);
        write!(f, "{} bytes: {text:?}", self.0.len())
    }
}

fn mutated() -> impl Strategy<Value = Input> {
    (0..SEEDS.len(), prop::collection::vec(mutation(), 1..5)).prop_map(|(seed, mutations)| {
        let mut text = SEEDS[seed].as_bytes().to_vec();
        for m in &mutations {
            apply(&mut text, m);
        }
        Input(text)
    })
}

/// The most output a Hotfile of `len` bytes may produce: each of the at most 20 rendered
/// mistakes shows its lines of the file, so linear in the input, with a constant for the
/// messages themselves.
fn output_bound(len: usize) -> usize {
    40 * len + 64 * 1024
}

proptest! {
    #![proptest_config(config(160, 1))]

    /// Any bytes: `hotfile::load` returns a project or at least one mistake, never panics,
    /// and the rendered diagnostic grows at most linearly with the input.
    #[test]
    fn mutated_hotfiles_load_or_give_bounded_diagnostics(input in mutated()) {
        let bytes = input.0;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Hotfile");
        std::fs::write(&path, &bytes).unwrap();
        match hot::hotfile::load(&path) {
            // A sound project: its graph builds (a DAG) and orders every node.
            Ok(project) => prop_assert_eq!(Graph::new(&project).order().len(), project.nodes.len()),
            Err(diags) => {
                prop_assert!(!diags.is_empty());
                let text = hot::report::render_plain(&diags, 80);
                prop_assert!(text.contains("hot::"), "{text}");
                prop_assert!(
                    text.len() <= output_bound(bytes.len()),
                    "{} bytes of diagnostics for {} of input",
                    text.len(),
                    bytes.len()
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(config(24, 10))]

    /// The binary: `hot check` on a mutated Hotfile exits 0 or 2 (never a panic's 101 or an
    /// abort's 134), with a diagnostic on 2, and bounded output.
    #[test]
    fn hot_check_exits_ok_or_with_a_diagnostic(input in mutated()) {
        let bytes = input.0;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Hotfile"), &bytes).unwrap();
        let out = Command::new(HOT)
            .arg("check")
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code();
        prop_assert!(matches!(code, Some(0 | 2)), "status {:?}:\n{stderr}", out.status);
        if code == Some(2) {
            prop_assert!(stderr.contains("hot::"), "{stderr}");
        }
        let size = out.stdout.len() + out.stderr.len();
        prop_assert!(size <= output_bound(bytes.len()), "{size} bytes for {}", bytes.len());
    }
}

/// A random DAG: node `i` comes after some nodes declared before it in `order`, and watches
/// some of the files `f0.txt`..`f3.txt`.
#[derive(Debug, Clone)]
struct Dag {
    /// Per node: the earlier nodes (by index) it is after, and a bit per file it watches.
    nodes: Vec<(Vec<usize>, u8)>,
    /// Declaration order in the Hotfile (a permutation), so indices are not already sorted.
    declared: Vec<usize>,
}

const FILES: usize = 4;

fn dag() -> impl Strategy<Value = Dag> {
    (1..14usize)
        .prop_flat_map(|n| {
            let nodes = (0..n)
                .map(|i| {
                    (
                        prop::collection::btree_set(0..i.max(1), 0..=i.min(3)),
                        0..16u8,
                    )
                        .prop_map(move |(after, watch)| {
                            let after = after.into_iter().filter(|&j| j < i).collect();
                            (after, watch)
                        })
                })
                .collect::<Vec<_>>();
            (nodes, Just((0..n).collect::<Vec<_>>()).prop_shuffle())
        })
        .prop_map(|(nodes, declared)| Dag { nodes, declared })
}

impl Dag {
    fn hotfile(&self) -> String {
        let mut out = String::new();
        for &i in &self.declared {
            let (after, watch) = &self.nodes[i];
            out.push_str(&format!("task \"n{i}\" {{\n    run \"true\"\n"));
            let globs: Vec<String> = (0..FILES)
                .filter(|f| watch & (1 << f) != 0)
                .map(|f| format!("\"f{f}.txt\""))
                .collect();
            if !globs.is_empty() {
                out.push_str(&format!("    watch {}\n", globs.join(" ")));
            }
            if !after.is_empty() {
                let names: Vec<String> = after.iter().map(|j| format!("\"n{j}\"")).collect();
                out.push_str(&format!("    after {}\n", names.join(" ")));
            }
            out.push_str("}\n");
        }
        out
    }

    fn project(&self) -> Project {
        match hot::hotfile::parse(Path::new("/tmp/fuzz/Hotfile"), &self.hotfile()) {
            Ok(project) => project,
            Err(diags) => panic!("{}", hot::report::render_plain(&diags, 80)),
        }
    }
}

/// Runs the engine until nothing is left to do, every task exiting 0 as soon as it starts;
/// returns the nodes it started.
fn drive(engine: &mut Engine, now: &mut Instant, actions: Vec<Action>) -> BTreeSet<NodeId> {
    let mut started = BTreeSet::new();
    let mut queue: VecDeque<Action> = actions.into();
    while let Some(action) = queue.pop_front() {
        if let Action::Start { node, generation } = action {
            started.insert(node);
            *now += Duration::from_millis(1);
            let exit = Event::Exited {
                node,
                generation,
                exit: Exit::Code(0),
                last_lines: Vec::new(),
                ran: None,
            };
            queue.extend(engine.handle(*now, exit));
        }
    }
    started
}

proptest! {
    #![proptest_config(config(160, 1))]

    /// `order` is a topological order; `levels` put every dependency strictly lower.
    #[test]
    fn order_respects_every_edge(dag in dag()) {
        let project = dag.project();
        let graph = Graph::new(&project);
        let order = graph.order();
        prop_assert_eq!(order.len(), project.nodes.len());
        let mut position = vec![usize::MAX; order.len()];
        for (p, n) in order.iter().enumerate() {
            position[n.0] = p;
        }
        let mut level = vec![usize::MAX; order.len()];
        for (l, nodes) in graph.levels().iter().enumerate() {
            for n in nodes {
                level[n.0] = l;
            }
        }
        for id in project.ids() {
            for dep in &project.node(id).after {
                prop_assert!(position[dep.0] < position[id.0], "{dep:?} before {id:?}");
                prop_assert!(level[dep.0] < level[id.0], "{dep:?} below {id:?}");
            }
        }
    }

    /// The stale set of a change is exactly the nodes that watch it and everything
    /// downstream of them: closed under dependents, and nothing else.
    #[test]
    fn stale_set_is_closed_downstream(dag in dag(), file in 0..FILES) {
        let project = dag.project();
        let graph = Graph::new(&project);
        let path = format!("f{file}.txt");
        let stale = graph.stale(&project, &[&path]);
        let direct: BTreeSet<NodeId> = graph.matching(&project, &[&path]).collect();
        prop_assert!(direct.is_subset(&stale));
        for &n in &stale {
            for d in graph.dependents(n) {
                prop_assert!(stale.contains(&d), "{d:?} after stale {n:?} is not stale");
            }
            let reached = direct.contains(&n)
                || project.node(n).after.iter().any(|dep| stale.contains(dep));
            prop_assert!(reached, "{n:?} is stale without cause");
        }
    }

    /// `hot why` (which answers with `graph.stale`) agrees with what a wave really starts
    /// after the initial run: the engine, fed a `Changed` event, starts exactly those nodes.
    #[test]
    fn why_agrees_with_what_a_wave_runs(dag in dag(), file in 0..FILES) {
        let project = Arc::new(dag.project());
        let graph = Graph::new(&project);
        let path = format!("f{file}.txt");
        let expected = graph.stale(&project, &[&path]);
        let options = Options { mode: Mode::Watch, targets: None, services: true, jobs: 3 };
        let mut engine = Engine::new(project.clone(), options);
        let mut now = Instant::now();
        let first = engine.start(now);
        let all = drive(&mut engine, &mut now, first);
        prop_assert_eq!(all.len(), project.nodes.len(), "the first wave runs everything");
        now += Duration::from_secs(1);
        let actions = engine.handle(now, Event::Changed(vec![Change::path(&path)]));
        let started = drive(&mut engine, &mut now, actions);
        prop_assert_eq!(started, expected);
    }
}
