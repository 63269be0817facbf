//! What is refused: every mistake a diagnostic with a caret, all of them at once.

use super::*;

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
    check(r#"task "a" { run "x""#, &["No closing '}' for child block"]);
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

/// A 50 MB Hotfile was refused as "1048577 bytes" (what was read, one past the limit), with no
/// help: a regular file is refused with its real size, unread.
#[test]
fn too_large_said_1048577_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Hotfile");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(50 << 20).unwrap();
    let diags = load(&path).unwrap_err();
    assert_eq!(
        diags.messages(),
        [format!(
            "the Hotfile {} is too large: 52428800 bytes (the limit is 1048576)",
            path.display()
        )]
    );
    let help = diags
        .iter()
        .next()
        .and_then(|m| m.help())
        .map(|h| h.to_string());
    assert!(help.is_some_and(|h| h.contains("`-f`")));
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
fn diagnostics_cross_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Diagnostics>();
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
