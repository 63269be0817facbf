use crate::test::{Test, USAGE};

/// The Hotfile contract's own example, shared with the parser's unit tests.
const CONTRACT: &str = include_str!("../contract.kdl");

/// Every file the contract names exists, so `hot check` has nothing to warn about.
#[test]
fn the_contract_example_is_sound() {
    Test::new()
        .hotfile(CONTRACT)
        .write("src/main.rs", "")
        .write("Cargo.toml", "")
        .write("tests/cli.rs", "")
        .write("templates/index.html", "")
        .executable("target/debug/app", "")
        .args(["check"])
        .stderr("hot: Hotfile is sound: 3 tasks, 1 service\n")
        .run();
}

/// Each mistake: status 2, the whole diagnostic, the same for every command that reads the
/// Hotfile, and nothing run (the command would have created `ran`).
#[track_caller]
fn check_mistake(hotfile: &str, diagnostic: &str) {
    for args in [&["check"][..], &["ci"], &["run", "a"], &["graph"]] {
        let done = Test::new()
            .hotfile(hotfile)
            .args(args)
            .stderr(diagnostic)
            .status(USAGE)
            .run();
        assert!(!done.project.path().join("ran").exists(), "a command ran");
    }
}

#[test]
fn mistakes_are_diagnostics_with_locations() {
    check_mistake(
        "task \"a\" {\n    run \"touch ran\"\n    after \"b\"\n}\n",
        "
        hot::unknown_after

          × `after` names no node called `b`
           ╭─[Hotfile:3:11]
         2 │     run \"touch ran\"
         3 │     after \"b\"
           ·           ─┬─
           ·            ╰── no such task or service
         4 │ }
           ╰────
          help: did you mean `a`?
        ",
    );
    check_mistake(
        "task \"a\" {\n    run \"touch ran\"\n    wtch \"src/**\"\n}\n",
        "
        hot::unknown_node

          × unknown node `wtch` in a task
           ╭─[Hotfile:3:5]
         2 │     run \"touch ran\"
         3 │     wtch \"src/**\"
           ·     ──┬─
           ·       ╰── unknown
         4 │ }
           ╰────
          help: did you mean `watch`?
        ",
    );
    check_mistake(
        "task \"a\" {\n    run \"touch ran\"\n    socket \"http\" \"127.0.0.1:0\"\n}\n",
        "
        hot::misplaced

          × `socket` is only allowed in a `service`
           ╭─[Hotfile:3:5]
         2 │     run \"touch ran\"
         3 │     socket \"http\" \"127.0.0.1:0\"
           ·     ───┬──
           ·        ╰── not allowed here
         4 │ }
           ╰────
          help: a task runs to completion; declare a `service` for a server
        ",
    );
    check_mistake(
        "task \"a\" {\n    run \"touch ran\"\n    watch \"src/[\"\n}\n",
        "
        hot::bad_glob

          × invalid glob `src/[`: unclosed character class; missing ']'
           ╭─[Hotfile:3:11]
         2 │     run \"touch ran\"
         3 │     watch \"src/[\"
           ·           ───┬───
           ·              ╰── invalid glob
         4 │ }
           ╰────
        ",
    );
}

#[test]
fn one_missing_brace_is_one_mistake() {
    // kdl tells of an unclosed `{` twice (at the brace and just past it).
    check_mistake(
        "task \"a\" {\n    run \"touch ran\"\n",
        "
        hot::syntax

          × No closing '}' for child block
           ╭─[Hotfile:1:10]
         1 │ task \"a\" {
           ·          ┬
           ·          ╰── not closed
         2 │     run \"touch ran\"
           ╰────
        ",
    );
    // Two braces left open are two mistakes.
    check_mistake(
        "task \"a\" {\n    run \"touch ran\" {\n",
        "
        hot::invalid_hotfile

          × Hotfile has 2 mistakes

        Error: hot::syntax

          × No closing '}' for child block
           ╭─[Hotfile:1:10]
         1 │ task \"a\" {
           ·          ┬
           ·          ╰── not closed
         2 │     run \"touch ran\" {
           ╰────

        Error: hot::syntax

          × No closing '}' for child block
           ╭─[Hotfile:2:21]
         1 │ task \"a\" {
         2 │     run \"touch ran\" {
           ·                     ┬
           ·                     ╰── not closed
           ╰────
        ",
    );
}

#[test]
fn a_missing_hotfile_is_a_usage_error() {
    Test::new()
        .args(["check"])
        .stderr(
            "
            hot::no_hotfile

              × no `Hotfile` here or in any parent directory
              help: run `hot init` to write one for this project, or name one with `-f PATH`
            ",
        )
        .status(USAGE)
        .run();
}

#[test]
fn the_hotfile_is_found_in_a_parent_directory() {
    Test::new()
        .hotfile("task \"a\" {\n    watch \"Hotfile\"\n    run \"true\"\n}\n")
        .write("deep/er/keep", "")
        .current_dir("deep/er")
        .args(["check"])
        .stderr("hot: [ROOT]/Hotfile is sound: 1 task, 0 services\n")
        .run();
}

#[test]
fn dash_f_names_the_hotfile() {
    Test::new()
        .write(
            "sub/Hotfile",
            "task \"a\" {\n    watch \"Hotfile\"\n    run \"true\"\n}\n",
        )
        .args(["-f", "sub/Hotfile", "check"])
        .stderr("hot: sub/Hotfile is sound: 1 task, 0 services\n")
        .run();
    Test::new()
        .args(["--file", "nope/Hotfile", "check"])
        .stderr(
            "
            hot::io

              × cannot read nope/Hotfile: No such file or directory (os error 2)
            ",
        )
        .status(USAGE)
        .run();
}

#[test]
fn unknown_node_names_on_the_command_line_are_usage_errors() {
    let done = Test::new()
        .hotfile("task \"build\" {\n    run \"touch ran\"\n}\n")
        .args(["run", "biuld"])
        .stderr(
            "
            hot::unknown_node

              × no node named `biuld` in Hotfile
              help: did you mean `build`?
            ",
        )
        .status(USAGE)
        .run();
    assert!(!done.project.path().join("ran").exists());
}

/// `lint` read the Hotfile again from its path for its spans, which standard input cannot
/// give twice: `hot -f - check` lost every warning. It now uses the loader's span table.
#[test]
fn check_warns_on_a_hotfile_read_from_standard_input() {
    use std::io::Write;
    let project = crate::support::Project::new();
    let mut child = project
        .hot(&["-f", "-", "check"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("hot starts");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(b"task \"t\" {\n    watch \"nothing/**\"\n    run \"true\"\n}\n")
        .expect("the Hotfile is written");
    let output = child.wait_with_output().expect("hot ends");
    let run = crate::support::Run::from(output);
    run.code(0);
    assert!(
        run.stderr.contains("`nothing/**` matches no file") && run.stderr.contains("2 │"),
        "a warning with its line: {}",
        run.stderr
    );
}
