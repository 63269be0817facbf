//! What parses: the contract example, defaults, services, restart and reload forms, loading.

use super::*;

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
    assert_eq!(&*test.dir, Path::new("/tmp/x"));
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
    assert_eq!(serve.env, [("RUST_LOG".into(), "info".into())]);
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
fn a_node_without_its_own_ignore_shares_the_defaults_list() {
    let p = ok(r#"
defaults {
    ignore "target/**" "**/*.tmp"
}
task "a" { watch "src/**"; run "true"; }
task "b" { watch "src/**"; ignore "src/gen/**"; run "true"; }
task "c" { watch "web/**"; run "true"; }
"#);
    let [a, b, c] = [0, 1, 2].map(|i| &p.nodes[i].inputs);
    assert_eq!(*a.ignore, ["target/**", "**/*.tmp"]);
    assert_eq!(*b.ignore, ["src/gen/**", "target/**", "**/*.tmp"]);
    assert!(
        std::sync::Arc::ptr_eq(&a.ignore, &c.ignore),
        "one list for every node that adds nothing to it, not a copy each"
    );
    assert!(!a.matches(Path::new("target/x")) && a.matches(Path::new("src/x")));
    assert!(!b.matches(Path::new("src/gen/x")) && b.matches(Path::new("src/x")));
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
    assert_eq!(*t.inputs.ignore, ["src/gen/**", "target/**", "**/*.tmp"]);
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
    assert_eq!(&*t.dir, Path::new("/tmp/x/sub/dir"));
    assert_eq!(t.stop.signal, Signal::Int);
    assert_eq!(t.stop.timeout, Duration::from_millis(1500));
    // A node without `watch` is fine, and gets the defaults too.
    let u = &p.nodes[1];
    assert!(u.inputs.watch.is_empty());
    assert!(!u.inputs.matches(Path::new("src/lib.rs")));
    assert_eq!(u.env.len(), 3);
    assert_eq!(&*u.dir, Path::new("/tmp/x"));
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
}

/// `-f /dev/null` ran an empty wave and said "all ok": a Hotfile without nodes is a mistake.
#[test]
fn an_empty_hotfile_said_all_ok() {
    let empty = ["the Hotfile declares no task or service: there is nothing to run"];
    check("", &empty);
    check("// only a comment\n", &empty);
    check(r#"defaults { debounce "20ms" }"#, &empty);
}

#[test]
fn example_hotfile_parses() {
    let text = include_str!("../../../Hotfile.example");
    let p = ok(text);
    assert!(p.find("serve").is_some());
}

#[test]
fn reload_is_loopback_unless_public() {
    use crate::model::Reload;
    let p = ok(r#"
service "a" { run "a"; socket "http" "127.0.0.1:3000"; reload "127.0.0.1:35729" }
service "b" { run "b"; socket "http" "0.0.0.0:3001"; reload "0.0.0.0:35730" public="true" }
service "c" { run "c" }
"#);
    let reloads: Vec<_> = p.nodes.iter().map(|n| n.reload).collect();
    assert_eq!(
        reloads,
        [
            Some(Reload {
                addr: "127.0.0.1:35729".parse().unwrap(),
                public: false
            }),
            Some(Reload {
                addr: "0.0.0.0:35730".parse().unwrap(),
                public: true
            }),
            None
        ]
    );
    const S: &str = r#"socket "http" "127.0.0.1:3000""#;
    check(
        &format!(r#"service "a" {{ run "x"; {S}; reload "0.0.0.0:35729" }}"#),
        &["`0.0.0.0:35729` is not a loopback address"],
    );
    check(
        &format!(r#"service "a" {{ run "x"; {S}; reload "127.0.0.1:1" public="yes" }}"#),
        &["`public` is `true` or `false`, not `yes`"],
    );
    check(
        r#"service "a" { run "x"; reload "127.0.0.1:35729" }"#,
        &["`reload` needs a `socket` in the same service"],
    );
    check(
        &format!(r#"service "a" {{ run "x"; {S}; reload "127.0.0.1:0" }}"#),
        &["`reload` needs a fixed port"],
    );
    check(
        &format!(r#"service "a" {{ run "x"; {S}; reload "localhost:35729" }}"#),
        &["invalid socket address `localhost:35729`"],
    );
    check(
        &format!(r#"service "a" {{ run "x"; {S}; reload "127.0.0.1:3000" }}"#),
        &["address 127.0.0.1:3000 is used by two sockets"],
    );
    check(
        r#"task "a" { run "x"; reload "127.0.0.1:35729" }"#,
        &["`reload` is only allowed in a `service`"],
    );
    check(
        &format!(r#"service "a" {{ run "x"; {S}; reload "127.0.0.1:1"; reload "127.0.0.1:2" }}"#),
        &["`reload` is given twice in this service"],
    );
    let text = render(&format!(
        r#"service "a" {{ run "x"; {S}; reload "0.0.0.0:35729" }}"#
    ));
    assert!(text.contains(r#"public="true""#), "{text}");
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
    assert_eq!(&*p.nodes[0].dir, root.as_path());
    let empty = tempfile::tempdir().unwrap();
    // No Hotfile above a fresh temp dir (unless /tmp itself has one).
    if !Path::new("/tmp/Hotfile").exists() && !Path::new("/Hotfile").exists() {
        assert_eq!(find(empty.path()), None);
    }
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
