use std::path::Path;
use std::time::Duration;

use miette::Diagnostic;

use super::*;
use crate::model::{Command, Kind, NodeId, Ready, Signal, Stop};

/// A fixed, absolute path outside the crate, so diagnostics name it the same everywhere.
const PATH: &str = "/tmp/x/Hotfile";

fn ok(input: &str) -> Project {
    match parse(Path::new(PATH), input) {
        Ok(project) => project,
        Err(diags) => panic!("{}", crate::report::render_plain(&diags, 80)),
    }
}

fn render(input: &str) -> String {
    match parse(Path::new(PATH), input) {
        Ok(_) => panic!("expected mistakes in:\n{input}"),
        Err(diags) => crate::report::render_plain(&diags, 80),
    }
}

/// `expected`: the messages of every mistake, in file order; empty means "parses".
#[track_caller]
fn check(input: &str, expected: &[&str]) {
    match parse(Path::new(PATH), input) {
        Ok(_) => assert!(
            expected.is_empty(),
            "parsed, expected {expected:?}:\n{input}"
        ),
        Err(diags) => {
            let messages = diags.messages();
            assert_eq!(
                messages,
                expected,
                "\n{}",
                crate::report::render_plain(&diags, 80)
            );
            // Every mistake in the file carries a span (a caret) except I/O and size errors.
            for mistake in diags.iter() {
                assert!(
                    mistake.labels().is_some_and(|mut l| l.next().is_some()),
                    "no label: {mistake}"
                );
            }
        }
    }
}

const CONTRACT: &str = r#"// Hotfile
task "clippy" {
    watch "src/**/*.rs" "Cargo.toml"
    run "cargo clippy --all-targets -- -D warnings"
}

task "test" {
    watch "src/**/*.rs" "tests/**/*.rs"
    after "clippy"
    run "cargo test"
}

task "build" {
    watch "src/**/*.rs" "Cargo.toml"
    run "cargo build"
}

service "serve" {
    after "test" "build"
    socket "http" "127.0.0.1:3000"
    watch "templates/**"
    run "./target/debug/app"
    env RUST_LOG="info"
    ready delay="300ms"
    stop signal="SIGTERM" timeout="5s"
}
"#;

#[test]
fn contract_example() {
    let p = ok(CONTRACT);
    assert_eq!(p.hotfile, Path::new(PATH));
    assert_eq!(p.root, Path::new("/tmp/x"));
    assert_eq!(p.debounce, Duration::from_millis(10));
    let names: Vec<_> = p.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["clippy", "test", "build", "serve"]);
    let kinds: Vec<_> = p.nodes.iter().map(|n| n.kind).collect();
    assert_eq!(kinds, [Kind::Task, Kind::Task, Kind::Task, Kind::Service]);

    let test = p.node(NodeId(1));
    assert_eq!(test.after, [NodeId(0)]);
    assert_eq!(test.run, Command::Shell("cargo test".into()));
    assert_eq!(test.dir, Path::new("/tmp/x"));
    assert!(test.ready.is_none());
    assert_eq!(test.stop, Stop::default());

    let serve = p.node(NodeId(3));
    assert_eq!(serve.after, [NodeId(1), NodeId(2)]);
    assert_eq!(serve.sockets.len(), 1);
    assert_eq!(serve.sockets[0].name, "http");
    assert_eq!(serve.sockets[0].addr, "127.0.0.1:3000".parse().unwrap());
    assert!(matches!(serve.ready, Some(Ready::Delay(d)) if d == Duration::from_millis(300)));
    assert_eq!(serve.ready_timeout, Duration::from_secs(60));
    assert_eq!(serve.stop.signal, Signal::Term);
    assert_eq!(serve.stop.timeout, Duration::from_secs(5));
    assert_eq!(serve.env, [("RUST_LOG".to_string(), "info".to_string())]);
    assert_eq!(serve.inputs.watch, ["templates/**"]);

    let clippy = p.node(NodeId(0));
    assert_eq!(
        clippy.run,
        Command::Shell("cargo clippy --all-targets -- -D warnings".into())
    );
    assert!(clippy.inputs.matches(Path::new("src/a/b.rs")));
    assert!(clippy.inputs.matches(Path::new("src/main.rs")));
    assert!(clippy.inputs.matches(Path::new("Cargo.toml")));
    assert!(!clippy.inputs.matches(Path::new("tests/a.rs")));
    assert!(!clippy.inputs.matches(Path::new("sub/Cargo.toml")));
}

#[test]
fn star_does_not_cross_slash() {
    let p = ok(r#"task "t" { watch "src/*.rs"; run "x" }"#);
    let inputs = &p.nodes[0].inputs;
    assert!(inputs.matches(Path::new("src/main.rs")));
    assert!(!inputs.matches(Path::new("src/a/b.rs")));
}

#[test]
fn defaults_merge() {
    let p = ok(r#"
defaults {
    ignore "target/**" "**/*.tmp"
    env A="1" B="2"
    env C="3"
    debounce "50ms"
}
task "t" {
    watch "**/*"
    ignore "src/gen/**"
    env B="own" D="4"
    run "cargo" "run" "--" "a b"
    dir "sub/dir"
    stop signal="INT" timeout="1.5s"
}
task "u" { run "true" }
"#);
    assert_eq!(p.debounce, Duration::from_millis(50));
    let t = &p.nodes[0];
    let env: Vec<_> = t.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(env, ["A=1", "B=own", "C=3", "D=4"]);
    assert_eq!(t.inputs.ignore, ["src/gen/**", "target/**", "**/*.tmp"]);
    assert!(t.inputs.matches(Path::new("src/lib.rs")));
    assert!(!t.inputs.matches(Path::new("target/debug/x")));
    assert!(!t.inputs.matches(Path::new("src/gen/a.rs")));
    assert!(!t.inputs.matches(Path::new("a/b.tmp")));
    assert_eq!(
        t.run,
        Command::Argv(vec![
            "cargo".into(),
            "run".into(),
            "--".into(),
            "a b".into()
        ])
    );
    assert_eq!(t.dir, Path::new("/tmp/x/sub/dir"));
    assert_eq!(t.stop.signal, Signal::Int);
    assert_eq!(t.stop.timeout, Duration::from_millis(1500));
    // A node without `watch` is fine, and gets the defaults too.
    let u = &p.nodes[1];
    assert!(u.inputs.watch.is_empty());
    assert!(!u.inputs.matches(Path::new("src/lib.rs")));
    assert_eq!(u.env.len(), 3);
    assert_eq!(u.dir, Path::new("/tmp/x"));
}

#[test]
fn services_and_ready() {
    let p = ok(r##"
service "a" {
    run "a"
    socket "http" "127.0.0.1:3000"
    socket "admin" "[::1]:3001"
    socket "any" "0.0.0.0:0"
    ready log=#"listening on \d+"# timeout="30s"
}
service "b" { run "b"; socket "x" "127.0.0.1:0"; ready "notify" }
service "c" { run "c"; stop signal="SIGKILL" }
"##);
    let a = &p.nodes[0];
    let socks: Vec<_> = a
        .sockets
        .iter()
        .map(|s| format!("{}={}", s.name, s.addr))
        .collect();
    assert_eq!(
        socks,
        ["http=127.0.0.1:3000", "admin=[::1]:3001", "any=0.0.0.0:0"]
    );
    assert!(matches!(&a.ready, Some(Ready::Log(r)) if r.is_match("listening on 42")));
    assert_eq!(a.ready_timeout, Duration::from_secs(30));
    assert!(matches!(p.nodes[1].ready, Some(Ready::Notify)));
    assert!(p.nodes[2].ready.is_none());
    assert_eq!(p.nodes[2].stop.signal, Signal::Kill);
}

#[test]
fn restart_policies() {
    let p = ok(r#"
service "a" { run "a" }
service "b" { run "b"; restart "never" }
service "c" { run "c"; restart "on-failure" }
service "d" { run "d"; restart "always" }
"#);
    let policies: Vec<_> = p.nodes.iter().map(|n| n.restart).collect();
    use crate::model::Restart;
    assert_eq!(
        policies,
        [
            Restart::Always,
            Restart::Never,
            Restart::OnFailure,
            Restart::Always
        ]
    );
    check(
        r#"service "a" { run "x"; restart "nevr" }"#,
        &["unknown restart policy `nevr`"],
    );
    check(
        r#"task "a" { run "x"; restart "never" }"#,
        &["`restart` is only allowed in a `service`"],
    );
    check(
        r#"service "a" { run "x"; restart "never" "always" }"#,
        &["unexpected argument to `restart`"],
    );
}

#[test]
fn accepted_forms() {
    // Bare identifiers are KDL 2 strings; raw strings too; `./` prefixes are tolerated.
    check(r#"task t { watch src; run make }"#, &[]);
    check(r##"task "t" { watch #"src/**"#; run #"echo "hi""# }"##, &[]);
    check(r#"task "t" { watch "./src/**"; run "x" }"#, &[]);
    check(
        "task \"t\" {\n  run \"x\"\n}\n// watch src/**/*.rs in a comment\n",
        &[],
    );
    check(
        r#"task "t" { after "u"; run "x" }; task "u" { run "y" }"#,
        &[],
    );
    check("", &[]);
}

#[test]
fn example_hotfile_parses() {
    let text = include_str!("../../Hotfile.example");
    let p = ok(text);
    assert!(p.find("serve").is_some());
}

#[test]
fn mistakes() {
    // Unknown and misplaced nodes.
    check(
        r#"tsak "a" { run "x" }"#,
        &["unknown node `tsak` at the top level"],
    );
    check(r#"task "a" { rn "x" }"#, &["unknown node `rn` in a task"]);
    check(
        r#"task "a" { run "x"; socket "http" "127.0.0.1:1"; ready "notify" }"#,
        &[
            "`socket` is only allowed in a `service`",
            "`ready` is only allowed in a `service`",
        ],
    );
    check(
        r#"task "a" { run "x"; debounce "1s" }"#,
        &["`debounce` is only allowed in `defaults`"],
    );
    check(
        r#"defaults { run "x" }"#,
        &["`run` is not allowed in `defaults`"],
    );
    check(
        r#"watch "x""#,
        &["`watch` must be inside a `task` or a `service`"],
    );
    check(
        r#"task "a" { run "x"; task "b" { run "y" } }"#,
        &["`task` is only allowed at the top level"],
    );
    check(
        r#"defaults { env A="1" }; defaults { env B="1" }"#,
        &["`defaults` is given twice in the Hotfile"],
    );
    // Names.
    check(r#"task { run "x" }"#, &["`task` needs a name"]);
    check(
        r#"task 5 { run "x" }"#,
        &["`task` expects a string, found a number `5`"],
    );
    check(
        r#"task "a" "b" { run "x" }"#,
        &["unexpected argument to `task`"],
    );
    check(
        r#"task "a" { run "x" }; service "a" { run "y" }"#,
        &["two nodes are named `a`"],
    );
    check(r#"task "a""#, &["task `a` has no `run`"]);
    // Arguments and properties.
    check(
        r#"task "a" { run "x"; watch 5 #true }"#,
        &[
            "`watch` expects a string, found a number `5`",
            "`watch` expects a string, found a boolean `#true`",
        ],
    );
    check(r#"task "a" { run }"#, &["`run` needs a command"]);
    check(
        r#"task "a" { run "x"; watch }"#,
        &["`watch` needs at least one glob"],
    );
    check(
        r#"task "a" { run "x"; dir "a" "b" }"#,
        &["unexpected argument to `dir`"],
    );
    check(
        r#"task "a" { run "x" shell=#true }"#,
        &["unknown property `shell` on `run`"],
    );
    check(
        r#"task "a" { run "x"; stop sginal="TERM" }"#,
        &["unknown property `sginal` on `stop`"],
    );
    check(
        r#"task "a" { run "x"; stop timeout="1s" timeout="2s" }"#,
        &["`timeout` is set twice in `stop`"],
    );
    check(
        r#"task "a" { run "x"; env "A=1" }"#,
        &["unexpected argument to `env`"],
    );
    check(
        r#"task "a" { run "x"; env A="1"; env A="2" }"#,
        &["`A` is set twice in `task`"],
    );
    check(
        r#"task "a" { run "x"; env A=1 }"#,
        &["`env` expects a string, found a number `1`"],
    );
    // Duplicated single-valued children.
    check(
        r#"task "a" { run "x"; run "y" }"#,
        &["`run` is given twice in this task"],
    );
    check(
        r#"task "a" { run "x"; dir "a"; dir "b" }"#,
        &["`dir` is given twice in this task"],
    );
    check(
        r#"defaults { debounce "1s"; debounce "2s" }"#,
        &["`debounce` is given twice in `defaults`"],
    );
    // Blocks on leaves.
    check(r#"task "a" { run "x" { } }"#, &["`run` takes no block"]);
    // The graph.
    check(
        r#"task "a" { after "bulid"; run "x" }; task "build" { run "y" }"#,
        &["`after` names no node called `bulid`"],
    );
    check(
        r#"task "a" { after "a"; run "x" }"#,
        &["`after` forms a cycle: a -> a"],
    );
    check(
        r#"
task "a" { after "b"; run "x" }
task "b" { after "c"; run "x" }
task "c" { after "a"; run "x" }
task "d" { after "a"; run "x" }
"#,
        &["`after` forms a cycle: a -> b -> c -> a"],
    );
    // Values.
    check(
        r#"task "a" { run "x"; watch "src/[a"; ignore "/abs/**" "" }"#,
        &[
            "invalid glob `src/[a`: unclosed character class; missing ']'",
            "invalid glob `/abs/**`: it is absolute",
            "invalid glob ``: it is empty",
        ],
    );
    check(
        r#"service "a" { run "x"; socket "h" "localhost:3000" }"#,
        &["invalid socket address `localhost:3000`"],
    );
    check(
        r#"service "a" { run "x"; socket "h" "127.0.0.1"; socket "i" "::1:80"; socket "j" "1.2.3.4:99999" }"#,
        &[
            "invalid socket address `127.0.0.1`",
            "invalid socket address `::1:80`",
            "invalid socket address `1.2.3.4:99999`",
        ],
    );
    check(
        r#"service "a" { run "x"; socket "h" "127.0.0.1:1"; socket "h" "127.0.0.1:2" }"#,
        &["two sockets are named `h` in service `a`"],
    );
    check(
        r#"service "a" { run "x"; socket "h" "127.0.0.1:1" }
service "b" { run "x"; socket "h" "0.0.0.0:1" }"#,
        &["address 0.0.0.0:1 is used by two sockets"],
    );
    check(
        r#"service "a" { run "x"; socket "a:b" "127.0.0.1:1" }"#,
        &["a socket name must be 1 to 255 printable ASCII characters without `:`"],
    );
    check(
        r#"defaults { debounce "5 s" }; service "a" { run "x"; ready delay="soon"; stop timeout="-1s" }"#,
        &[
            "invalid duration `5 s`",
            "invalid duration `soon`",
            "invalid duration `-1s`",
        ],
    );
    check(
        r#"service "a" { run "x"; ready log="(" }"#,
        &["invalid regular expression for `ready log`"],
    );
    check(
        r#"service "a" { run "x"; stop signal="SIGTREM" }"#,
        &["unknown signal `SIGTREM`"],
    );
    check(
        r#"service "a" { run "x"; ready }"#,
        &["`ready` needs a way to tell that the service is ready"],
    );
    check(
        r#"service "a" { run "x"; ready "notify" delay="1s" }"#,
        &["`ready` takes only one of `delay`, `log` and \"notify\""],
    );
    check(
        r#"service "a" { run "x"; ready "notfy" }"#,
        &["unknown `ready` mode `notfy` (did you mean `notify`?)"],
    );
    check(r#"task "a" { run "" }"#, &["`run` is empty"]);
    check(r#"task "a" { run "x"; dir "" }"#, &["`dir` is empty"]);
    // KDL syntax errors come with the file's name.
    check(
        r#"task "a" { run "x""#,
        &[
            "No closing '}' for child block",
            "Closing '}' was not found after nodes",
        ],
    );
}

#[test]
fn all_mistakes_at_once() {
    let diags = parse(
        Path::new(PATH),
        r#"
task "a" { run "x"; watch 5 }
task "a" { after "zzz" }
service "s" { run "y"; socket "h" "nope"; ready delay="1" }
"#,
    )
    .unwrap_err();
    assert_eq!(diags.len(), 6, "{:?}", diags.messages());
}

#[test]
fn unquoted_glob_trap() {
    check(
        "task \"a\" {\n    watch src/**/*.rs \"Cargo.toml\"\n    run \"x\"\n}\n",
        &["glob must be quoted: KDL reads `src/**/*.rs` unquoted as `src` plus a comment"],
    );
    // Without a closing `*/` KDL would report an unclosed comment instead.
    check(
        "task \"a\" { watch src/*.rs; run \"x\" }",
        &["glob must be quoted: KDL reads `src/*.rs` unquoted as `src` plus a comment"],
    );
    check(
        "task \"a\" { run \"x\"; dir sub/dir }",
        &["path must be quoted: KDL cannot read `sub/dir` unquoted"],
    );
    // Quoted, commented and slashdashed forms are fine.
    check(
        "task \"a\" { watch \"src/**/*.rs\" /* c */; run \"x\" }",
        &[],
    );
    check("task \"a\" {\n    /-watch \"x\"\n    run \"x\"\n}", &[]);
}

#[test]
fn absurd_input_is_refused() {
    let deep = "a {".repeat(100_000);
    check(
        &deep,
        &["blocks are nested too deeply (the limit is 32 levels)"],
    );
    let comments = "/*".repeat(100_000);
    check(
        &comments,
        &["comments are nested too deeply (the limit is 32 levels)"],
    );
    // At the limit it still parses, on a test thread's small stack.
    let ok_deep = format!("{}{}", "a {".repeat(32), "}".repeat(32));
    check(&ok_deep, &["unknown node `a` at the top level"]);

    let big = format!("// {}\n", "x".repeat(2 << 20));
    let diags = parse(Path::new(PATH), &big).unwrap_err();
    assert_eq!(
        diags.messages(),
        ["the Hotfile is too large: 2097156 bytes (the limit is 1048576)"]
    );
}

#[test]
fn never_panics_on_odd_input() {
    for input in [
        "\"",
        "#",
        "#\"",
        "\"\"\"",
        "/*",
        "*/",
        "{",
        "}",
        "a/",
        "/",
        "\\",
        "task \"é\" { run \"ü\" watch é/x }",
        "task \"a\" { run \"x\"; env \"\"=\"1\" }",
        "(t)task (u)\"a\" { (v)run \"x\" }",
        "task \"a\" { run \"x\\u{0}\" }",
        "service \"s\" { run \"x\"; socket \"\" \"[::]:1\" }",
    ] {
        let _ = parse(Path::new(PATH), input);
    }
}

#[test]
fn never_panics_on_truncated_or_mangled_files() {
    let text =
        format!("{CONTRACT}\ndefaults {{ ignore \"t/**\"; env A=#\"x\"#; debounce \"1s\" }}\n");
    let cuts = text.char_indices().map(|(i, _)| i);
    for i in cuts {
        let _ = parse(Path::new(PATH), &text[..i]);
        for insert in ["/", "*", "\"", "#", "{", "}", "\\", "é", "/-", "="] {
            let mangled = format!("{}{insert}{}", &text[..i], &text[i..]);
            let _ = parse(Path::new(PATH), &mangled);
        }
    }
}

#[test]
fn io_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("Hotfile");
    let diags = load(&missing).unwrap_err();
    assert_eq!(diags.len(), 1);
    assert!(diags.messages()[0].starts_with(&format!("cannot read {}", missing.display())));

    std::fs::write(&missing, b"task \"a\" { run \"\xff\" }").unwrap();
    let diags = load(&missing).unwrap_err();
    assert!(
        diags.messages()[0].contains("not UTF-8"),
        "{:?}",
        diags.messages()
    );

    std::fs::write(&missing, vec![b' '; MAX_BYTES + 1]).unwrap();
    let diags = load(&missing).unwrap_err();
    assert!(diags.messages()[0].contains("too large"));
}

#[test]
fn load_and_find() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::fs::write(root.join("Hotfile"), "task \"a\" { run \"x\" }").unwrap();
    let nested = root.join("a/b");
    std::fs::create_dir_all(&nested).unwrap();
    assert_eq!(find(&nested), Some(root.join("Hotfile")));
    assert_eq!(find(&root), Some(root.join("Hotfile")));
    let p = load(&root.join("Hotfile")).unwrap();
    assert_eq!(p.root, root);
    assert_eq!(p.nodes[0].dir, root);
    let empty = tempfile::tempdir().unwrap();
    // No Hotfile above a fresh temp dir (unless /tmp itself has one).
    if !Path::new("/tmp/Hotfile").exists() && !Path::new("/Hotfile").exists() {
        assert_eq!(find(empty.path()), None);
    }
}

#[test]
fn socket_overlap() {
    let two = |a: &str, b: &str| {
        format!(
            "service \"a\" {{ run \"x\"; socket \"h\" \"{a}\" }}\nservice \"b\" {{ run \"x\"; socket \"h\" \"{b}\" }}"
        )
    };
    check(&two("127.0.0.1:1", "127.0.0.2:1"), &[]);
    check(&two("127.0.0.1:1", "127.0.0.1:2"), &[]);
    check(&two("0.0.0.0:1", "[::1]:1"), &[]);
    check(&two("127.0.0.1:0", "127.0.0.1:0"), &[]);
    check(
        &two("[::]:1", "127.0.0.1:1"),
        &["address 127.0.0.1:1 is used by two sockets"],
    );
    check(
        &two("[::1]:1", "[::1]:1"),
        &["address [::1]:1 is used by two sockets"],
    );
}

#[test]
fn file_names_as_the_user_sees_them() {
    assert_eq!(display_name(Path::new("sub/Hotfile")), "sub/Hotfile");
    assert_eq!(
        display_name(Path::new("/elsewhere/Hotfile")),
        "/elsewhere/Hotfile"
    );
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(display_name(&cwd.join("a/Hotfile")), "a/Hotfile");
    let diags = parse(Path::new("a/Hotfile"), "oops").unwrap_err();
    assert_eq!(diags.file_name(), "a/Hotfile");
    let out = crate::report::render_plain(&diags, 80);
    assert!(out.contains("[a/Hotfile:1:1]"), "{out}");
}

#[test]
fn diagnostics_cross_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Diagnostics>();
}

#[test]
fn snapshot_unknown_node() {
    insta::assert_snapshot!(render("task \"a\" {\n    rnu \"cargo test\"\n}\n"), @r#"
        hot::unknown_node

          × unknown node `rnu` in a task
           ╭─[/tmp/x/Hotfile:2:5]
         1 │ task "a" {
         2 │     rnu "cargo test"
           ·     ─┬─
           ·      ╰── unknown
         3 │ }
           ╰────
          help: did you mean `run`?
    "#);
}

#[test]
fn snapshot_trap() {
    insta::assert_snapshot!(render("task \"a\" {\n    watch src/**/*.rs\n    run \"x\"\n}\n"), @r#"
        hot::unquoted_path

          × glob must be quoted: KDL reads `src/**/*.rs` unquoted as `src` plus a
          │ comment
           ╭─[/tmp/x/Hotfile:2:11]
         1 │ task "a" {
         2 │     watch src/**/*.rs
           ·           ─────┬─────
           ·                ╰── quote this
         3 │     run "x"
           ╰────
          help: write watch "src/**/*.rs"
    "#);
}

#[test]
fn snapshot_cycle() {
    insta::assert_snapshot!(render("task \"a\" {\n    after \"b\"\n    run \"x\"\n}\ntask \"b\" {\n    after \"a\"\n    run \"y\"\n}\n"), @r#"
        hot::cycle

          × `after` forms a cycle: a -> b -> a
           ╭─[/tmp/x/Hotfile:2:11]
         1 │ task "a" {
         2 │     after "b"
           ·           ─┬─
           ·            ╰── `a` is after `b`
         3 │     run "x"
           ╰────
           ╭─[/tmp/x/Hotfile:6:11]
         5 │ task "b" {
         6 │     after "a"
           ·           ─┬─
           ·            ╰── `b` is after `a`
         7 │     run "y"
           ╰────
          help: tasks and services must form a DAG: remove one of these `after`
                entries
    "#);
}

#[test]
fn snapshot_duplicate_name() {
    insta::assert_snapshot!(render("task \"a\" { run \"x\" }\nservice \"a\" { run \"y\" }\n"), @r#"
        hot::duplicate_name

          × two nodes are named `a`
           ╭─[/tmp/x/Hotfile:1:6]
         1 │ task "a" { run "x" }
           ·      ─┬─
           ·       ╰── first defined here
         2 │ service "a" { run "y" }
           ·         ─┬─
           ·          ╰── defined again here
           ╰────
          help: node names must be unique
    "#);
}

#[test]
fn snapshot_syntax() {
    insta::assert_snapshot!(render("task \"a\" {\n    run \"cargo test\n}\n"), @r#"
        hot::syntax

          × Unexpected newline in single-line quoted string
           ╭─[/tmp/x/Hotfile:2:9]
         1 │ task "a" {
         2 │     run "cargo test
           ·         ─────┬─────
           ·              ╰── not quoted string
         3 │ }
           ╰────
          help: You can make a string multi-line by wrapping it in '"""', with a
                newline immediately after the opening quotes.
    "#);
}

#[test]
fn snapshot_several() {
    insta::assert_snapshot!(render(r#"task "a" {
    watch 5
    after "bulid"
    run "x"
}
service "s" {
    socket "http" "localhost:3000"
    ready delay="1"
    run "y"
}
task "build" { run "z" }
"#), @r#"
        hot::invalid_hotfile

          × /tmp/x/Hotfile has 4 mistakes

        Error: hot::wrong_type

          × `watch` expects a string, found a number `5`
           ╭─[/tmp/x/Hotfile:2:11]
         1 │ task "a" {
         2 │     watch 5
           ·           ┬
           ·           ╰── not a string
         3 │     after "bulid"
           ╰────
          help: quote it: "5"

        Error: hot::unknown_after

          × `after` names no node called `bulid`
           ╭─[/tmp/x/Hotfile:3:11]
         2 │     watch 5
         3 │     after "bulid"
           ·           ───┬───
           ·              ╰── no such task or service
         4 │     run "x"
           ╰────
          help: did you mean `build`?

        Error: hot::bad_socket

          × invalid socket address `localhost:3000`
           ╭─[/tmp/x/Hotfile:7:19]
         6 │ service "s" {
         7 │     socket "http" "localhost:3000"
           ·                   ────────┬───────
           ·                           ╰── invalid address
         8 │     ready delay="1"
           ╰────
          help: hot binds an IP address, not a host name: write "127.0.0.1:3000" (or
                "[::1]:3000" for IPv6)

        Error: hot::bad_duration

          × invalid duration `1`
           ╭─[/tmp/x/Hotfile:8:17]
         7 │     socket "http" "localhost:3000"
         8 │     ready delay="1"
           ·                 ─┬─
           ·                  ╰── not a duration
         9 │     run "y"
           ╰────
          help: write a number and a unit: "300ms", "5s", "1.5m" or "1h"
    "#);
}

#[test]
fn snapshot_misplaced() {
    insta::assert_snapshot!(render("task \"a\" {\n    run \"x\"\n    socket \"http\" \"127.0.0.1:3000\"\n}\n"), @r#"
        hot::misplaced

          × `socket` is only allowed in a `service`
           ╭─[/tmp/x/Hotfile:3:5]
         2 │     run "x"
         3 │     socket "http" "127.0.0.1:3000"
           ·     ───┬──
           ·        ╰── not allowed here
         4 │ }
           ╰────
          help: a task runs to completion; declare a `service` for a server
    "#);
}

#[test]
fn snapshot_three_node_cycle() {
    insta::assert_snapshot!(render(r#"task "a" { after "b"; run "x" }
task "b" { after "c"; run "x" }
task "c" { after "a" "b"; run "x" }
"#), @r#"
        hot::cycle

          × `after` forms a cycle: a -> b -> c -> a
           ╭─[/tmp/x/Hotfile:1:18]
         1 │ task "a" { after "b"; run "x" }
           ·                  ─┬─
           ·                   ╰── `a` is after `b`
         2 │ task "b" { after "c"; run "x" }
           ·                  ─┬─
           ·                   ╰── `b` is after `c`
         3 │ task "c" { after "a" "b"; run "x" }
           ·                  ─┬─
           ·                   ╰── `c` is after `a`
           ╰────
          help: tasks and services must form a DAG: remove one of these `after`
                entries
    "#);
}

#[test]
fn snapshot_io() {
    let diags = load(Path::new("/nonexistent/dir/Hotfile")).unwrap_err();
    insta::assert_snapshot!(crate::report::render_plain(&diags, 80), @r#"
        hot::io

          × cannot read /nonexistent/dir/Hotfile: No such file or directory (os error
          │ 2)
    "#);
}

/// Every span of a document, depth first, for comparing two parses.
fn spans(doc: &kdl::KdlDocument, out: &mut Vec<(usize, usize)>) {
    for node in doc.nodes() {
        out.push((node.span().offset(), node.span().len()));
        out.push((node.name().span().offset(), node.name().span().len()));
        for entry in node.entries() {
            out.push((entry.span().offset(), entry.span().len()));
        }
        if let Some(children) = node.children() {
            spans(children, out);
        }
    }
}

#[test]
fn a_large_file_parsed_in_pieces_has_the_spans_of_a_whole_parse() {
    let mut text = String::from("defaults {\n    debounce \"20ms\"\n}\n");
    for i in 0..400 {
        text.push_str(&format!(
            "task \"n{i}\" {{\n    watch \"src/**/*.rs\"\n    run \"echo {i}\" \"x\"\n    env A=\"{i}\"\n}}\n"
        ));
    }
    assert!(text.len() > super::PARALLEL_FROM);
    let scan = super::lex::prescan(&text);
    let pieces = super::parse_kdl(&text, &scan.node_ends).unwrap();
    let whole = kdl::KdlDocument::parse(&text).unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    spans(&pieces, &mut a);
    spans(&whole, &mut b);
    assert_eq!(a, b);
    assert_eq!(pieces.nodes().len(), 401);
    // A mistake near the end of a large file points at the right line.
    text.push_str("task \"last\" {\n    after \"nope\"\n    run \"x\"\n}\n");
    let messages = parse(Path::new("/tmp/x/Hotfile"), &text).unwrap_err();
    let rendered = crate::report::render_plain(&messages, 80);
    assert!(rendered.contains("Hotfile:2005:11"), "{rendered}");
}

#[test]
fn a_syntax_error_in_a_large_file_reads_as_in_a_whole_parse() {
    let mut text = String::new();
    for i in 0..400 {
        text.push_str(&format!("task \"n{i}\" {{\n    run \"echo {i}\"\n}}\n"));
    }
    text.push_str("task \"bad\" {\n    run \"x\n}\n");
    let rendered =
        crate::report::render_plain(&parse(Path::new("/tmp/x/Hotfile"), &text).unwrap_err(), 80);
    assert!(rendered.contains("Hotfile:1202:"), "{rendered}");
}

/// `ready delay="10000000000000000000s"` passed `hot check` and then overflowed `Instant + d`
/// at start; so did a huge `stop timeout` at Ctrl-C and `debounce`.
#[test]
fn duration_past_a_day_is_a_diagnostic() {
    check(
        r#"defaults { debounce "5000000000000000000s" }
service "a" { run "x"; ready delay="10000000000000000000s"; stop timeout="25h" }
service "b" { run "x"; ready log="x" timeout="1441m" }"#,
        &[
            "duration `5000000000000000000s` is longer than a day",
            "duration `10000000000000000000s` is longer than a day",
            "duration `25h` is longer than a day",
            "duration `1441m` is longer than a day",
        ],
    );
    let project = ok(r#"service "a" { run "x"; ready delay="24h"; stop timeout="1440m" }"#);
    assert_eq!(project.nodes[0].stop.timeout, MAX_DURATION);
    assert!(
        matches!(project.nodes[0].ready, Some(Ready::Delay(d)) if d == MAX_DURATION),
        "{:?}",
        project.nodes[0].ready
    );
    insta::assert_snapshot!(render(r#"task "a" { run "x"; stop timeout="99999h" }"#), @r#"
        hot::duration_too_long

          × duration `99999h` is longer than a day
           ╭─[/tmp/x/Hotfile:1:34]
         1 │ task "a" { run "x"; stop timeout="99999h" }
           ·                                  ────┬───
           ·                                      ╰── longer than 24h
           ╰────
          help: durations are at most "24h"; write a shorter one
    "#);
}

fn ring(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "task \"t{i}\" {{\n    after \"t{}\"\n    run \"x\"\n}}\n",
                (i + 1) % n
            )
        })
        .collect()
}

/// A 10,000-node cycle took 12.5 s to check and printed 2.4 MB: every node of the loop was
/// named and labelled, and finding the loop was quadratic.
#[test]
fn cycle_of_ten_thousand_nodes_is_one_short_report() {
    let input = ring(10_000);
    let text = render(&input);
    assert!(text.len() < 4_000, "{} bytes:\n{text}", text.len());
    let diags = parse(Path::new(PATH), &input).unwrap_err();
    assert_eq!(
        diags.messages(),
        [
            "`after` forms a cycle: t0 -> t1 -> t2 -> t3 -> t4 -> t5 -> t6 -> t7 -> … and 9992 more -> t0"
        ]
    );
    assert_eq!(text.matches(" is after ").count(), 8, "{text}");
}

/// Each strongly connected component is one loop, the shortest through its first node, and
/// the loops are listed shortest first.
#[test]
fn cycles_are_listed_shortest_first() {
    check(
        r#"
task "a" { after "b"; run "x" }
task "b" { after "c"; run "x" }
task "c" { after "a"; run "x" }
task "d" { after "e" "d"; run "x" }
task "e" { after "d"; run "x" }
task "f" { after "g"; run "x" }
task "g" { after "f"; run "x" }
task "h" { after "nope"; run "x" }
"#,
        &[
            "`after` names no node called `nope`",
            "`after` forms a cycle: d -> d",
            "`after` forms a cycle: f -> g -> f",
            "`after` forms a cycle: a -> b -> c -> a",
        ],
    );
}

/// 2,000 mistakes on one 15 KB line rendered the line 2,000 times: 59 MB of output.
#[test]
fn many_mistakes_on_one_line_render_in_bounded_size() {
    let names: Vec<String> = (0..2000).map(|i| format!("\"z{i}\"")).collect();
    let input = format!("task \"a\" {{ run \"x\"; after {} }}", names.join(" "));
    let text = render(&input);
    assert!(
        text.contains("has 2000 mistakes (the first 20 are shown)"),
        "{text}"
    );
    assert!(
        text.len() < 40 * input.len(),
        "{} bytes for {} of input",
        text.len(),
        input.len()
    );
}

/// petgraph's `tarjan_scc` recurses once per node of a chain: a long `after` chain overflowed
/// the stack (a test thread's 2 MB at 10,000 nodes; hot's main thread not far beyond).
#[test]
fn long_after_chain_does_not_overflow_the_stack() {
    let n = 30_000;
    let text: String = (0..n)
        .map(|i| {
            let after = if i + 1 < n {
                format!("after t{};", i + 1)
            } else {
                String::new()
            };
            format!("task t{i}{{{after}run x}}\n")
        })
        .collect();
    assert!(text.len() < MAX_BYTES);
    assert_eq!(ok(&text).nodes.len(), n);
}

/// Found by `tests/fuzz.rs`: miette writes columns and underline lengths as format widths,
/// which panic past 65,535 ("Formatting argument out of range"), so a mistake far right on a
/// long line, or under a long string, crashed `hot check`.
#[test]
fn mistake_far_right_on_a_long_line_renders() {
    let far = format!("{}nope \"x\"\n", " ".repeat(70_000));
    let text = render(&far);
    assert!(
        text.contains("unknown node `nope`") && text.contains("(at line 1, column 70001; too far"),
        "{}",
        &text[..text.len().min(2000)]
    );
    let long = format!(
        "task \"a\" {{ run \"x\"; watch \"[{}\" }}\n",
        "x".repeat(70_000)
    );
    let text = render(&long);
    assert!(
        text.contains("invalid glob"),
        "{}",
        &text[..text.len().min(2000)]
    );
}

/// Found by `tests/fuzz.rs`: after a syntax error the KDL parser resumes where the prescan's
/// view of strings does not hold, and recursed once per `{`: this 55 KB file aborted
/// `hot check` (also in release) with a stack overflow.
#[test]
fn braces_inside_broken_strings_cannot_overflow_the_stack() {
    let text = format!("a \"{}\n", "task \"n\" { ".repeat(5000));
    assert!(text.len() > 50_000);
    let diags = parse(Path::new(PATH), &text).unwrap_err();
    assert_eq!(
        diags.messages(),
        ["braces (counted in strings too) are nested too deeply (the limit is 128 levels)"]
    );
    // Braces that close are fine however many there are.
    let balanced = format!("task \"a\" {{ run \"{}\" }}\n", "{ x } ".repeat(5000));
    ok(&balanced);
}
