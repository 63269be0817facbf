//! Rendered diagnostics, as `hot check` prints them (inline insta snapshots).

use super::*;

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
