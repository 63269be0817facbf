//! The command line: where each flag goes, `hot run NAME -- ARGS`, `--json` and `--color`
//! on every command, completions, the man page, `--help` and the one error style.

use std::process::Command;

use crate::support::{HOT, Project};
use crate::test::{Test, USAGE};

const TWO: &str = r#"
task "build" {
    watch "src/**"
    run "echo built"
}
service "serve" {
    after "build"
    run "sleep 30"
}
"#;

#[test]
fn watch_flags_are_accepted_without_the_word_watch() {
    let project = Project::with_hotfile(TWO);
    project.write("src/a.txt", "1");
    let mut hot = project.spawn(&["--poll=50ms", "--debounce", "10ms"]);
    hot.wait_event("watching", "");
    hot.wait_event("wave_finished", "");
    project.write("src/a.txt", "2");
    let wave = hot.wait_event("wave_started", "");
    assert_eq!(wave["paths"][0], "src/a.txt", "{}", hot.transcript());
}

#[test]
fn watch_flags_before_another_command_say_where_they_belong() {
    Test::new()
        .hotfile(TWO)
        .args(["--poll", "ci"])
        .stderr(
            "
            hot::misplaced_flag

              × `--poll` before `ci` belongs to plain `hot`
              help: `--poll` is for watch mode: `hot --poll …` or `hot watch --poll …`
            ",
        )
        .status(USAGE)
        .run();
    Test::new()
        .hotfile(TWO)
        .args(["-j", "2", "ci"])
        .stderr(
            "
            hot::misplaced_flag

              × `--jobs` before `ci` belongs to plain `hot`
              help: a command's flags go after it: `hot ci -j N …`
            ",
        )
        .status(USAGE)
        .run();
}

#[test]
fn jobs_is_offered_only_by_commands_that_run_things() {
    for (args, usage) in [
        (
            &["graph", "-j", "2"][..],
            "help: Usage: hot graph [OPTIONS]",
        ),
        (
            &["why", "-j", "2", "x"],
            "help: to pass '-j' as a value, use '-- -j'\n        Usage: hot why [OPTIONS] <PATH>...",
        ),
        (&["check", "-j", "1"], "help: Usage: hot check [OPTIONS]"),
    ] {
        Test::new()
            .hotfile(TWO)
            .args(args)
            .stderr(&format!(
                "hot::usage\n\n  × unexpected argument '-j' found\n  {usage}\n        \
                 For more information, try '--help'.\n"
            ))
            .status(USAGE)
            .run();
    }
    Test::new()
        .hotfile(TWO)
        .args(["ci", "-j", "1"])
        .stdout(
            "
            [build] built

            node   result    duration
            build  ok        [DURATION]
            all ok
            ",
        )
        .stderr(
            "
            hot: [TIME] start: running build
            hot: ✓ build ([DURATION])
            hot: all ok
            ",
        )
        .run();
}

const ARGS: &str = r#"
task "shell" {
    run "printf '<%s>' shell"
}
task "argv" {
    run "printf" "<%s>" "argv"
}
"#;

#[test]
fn run_appends_arguments_after_double_dash_to_the_nodes_command() {
    // The node's stdout is hot's stdout.
    Test::new()
        .hotfile(ARGS)
        .args(["run", "shell", "--", "--nocapture", "a b", "it's"])
        .stdout("[shell] <shell><--nocapture><a b><it's>\n")
        .stderr(
            "
            hot: [TIME] start: running shell
            hot: ✓ shell ([DURATION])
            hot: all ok
            ",
        )
        .run();
    Test::new()
        .hotfile(ARGS)
        .args(["run", "argv", "--", "--nocapture", "$HOME"])
        .stdout("[argv] <argv><--nocapture><$HOME>\n")
        .stderr(
            "
            hot: [TIME] start: running argv
            hot: ✓ argv ([DURATION])
            hot: all ok
            ",
        )
        .run();
}

#[test]
fn run_arguments_after_double_dash_need_exactly_one_node() {
    Test::new()
        .hotfile(ARGS)
        .args(["run", "shell", "argv", "--", "-x"])
        .stderr(
            "
            hot::ambiguous_args

              × the arguments after `--` go to one node, and shell, argv are named
              help: name the one node they are for: `hot run NAME -- ARGS`
            ",
        )
        .status(USAGE)
        .run();
}

#[test]
fn json_is_a_document_for_graph_why_check_and_dry_run() {
    let graph = Test::new()
        .hotfile(TWO)
        .write("src/a.txt", "1")
        .args(["graph", "--json"])
        .stdout(concat!(
            r#"{"levels":[["build"],["serve"]],"nodes":["#,
            r#"{"after":[],"dir":".","gates":[],"ignore":[],"kind":"task","name":"build","run":"echo built","sockets":[],"watch":["src/**"]},"#,
            r#"{"after":["build"],"dir":".","gates":[],"ignore":[],"kind":"service","name":"serve","run":"sleep 30","sockets":[],"watch":[]}],"#,
            r#""order":["build","serve"]}"#,
            "\n"
        ))
        .run();
    Test::new()
        .hotfile(TWO)
        .args(["graph", "--format", "json"])
        .stdout(&graph.stdout)
        .run();

    Test::new()
        .hotfile(TWO)
        .write("src/a.txt", "1")
        .args(["why", "--json", "src/a.txt", "README"])
        .stdout(concat!(
            r#"{"paths":["#,
            r#"{"ignored":false,"link":null,"outside":false,"path":"src/a.txt","special":null,"then":["serve"],"watched_by":["build"]},"#,
            r#"{"ignored":false,"link":null,"outside":false,"path":"README","special":null,"then":[],"watched_by":[]}]}"#,
            "\n"
        ))
        .run();

    Test::new()
        .hotfile(TWO)
        .args(["ci", "--dry-run", "--json"])
        .stdout(concat!(
            r#"{"not_run":["serve"],"steps":[{"tasks":[{"dir":".","locks":[],"node":"build","run":"echo built"}]}]}"#,
            "\n"
        ))
        .run();

    Test::new()
        .hotfile(TWO)
        .write("src/a.txt", "1")
        .args(["check", "--json"])
        .stdout(
            r#"{"hotfile":"Hotfile","services":1,"sound":true,"tasks":1,"warnings":[]}
"#,
        )
        .run();
}

#[test]
fn graph_json_is_one_line_with_dirs_relative_like_the_dry_run() {
    // A task in a subdirectory: `graph --json` and `ci --dry-run --json` both say `./web`.
    let hotfile = "task \"build\" {\n    dir \"web\"\n    run \"true\"\n}\n";
    Test::new()
        .hotfile(hotfile)
        .write("web/keep", "")
        .args(["graph", "--json"])
        .stdout(concat!(
            r#"{"levels":[["build"]],"nodes":[{"after":[],"dir":"./web","gates":[],"ignore":[],"kind":"task","#,
            r#""name":"build","run":"true","sockets":[],"watch":[]}],"order":["build"]}"#,
            "\n"
        ))
        .run();
    Test::new()
        .hotfile(hotfile)
        .write("web/keep", "")
        .args(["ci", "--dry-run", "--json"])
        .stdout(concat!(
            r#"{"not_run":[],"steps":[{"tasks":[{"dir":"./web","locks":[],"node":"build","run":"true"}]}]}"#,
            "\n"
        ))
        .run();
}

#[test]
fn json_is_refused_where_it_has_no_meaning() {
    // The refusal is itself JSON, on stdout, where the document would have been.
    Test::new()
        .hotfile(TWO)
        .args(["completions", "bash", "--json"])
        .stdout(concat!(
            r#"{"event":"diagnostic","message":"`hot completions` has no JSON output","#,
            r#""rendered":"hot::json_unsupported\n\n  × `hot completions` has no JSON output\n  "#,
            r#"help: it prints a file for your shell or `man`; leave out `--json`\n","#,
            r#""time":"[TIMESTAMP]+00:00"}"#,
            "\n"
        ))
        .status(USAGE)
        .run();
    Test::new()
        .hotfile(TWO)
        .args(["graph", "--json", "--format", "dot"])
        .stdout(concat!(
            r#"{"event":"diagnostic","#,
            r#""message":"`--json` asks for JSON and `--format dot` for another format","#,
            r#""rendered":"hot::json_conflict\n\n  × `--json` asks for JSON and `--format dot` for another format\n  "#,
            r#"help: leave out one of them (`--json` is `--format json`)\n","#,
            r#""time":"[TIMESTAMP]+00:00"}"#,
            "\n"
        ))
        .status(USAGE)
        .run();
}

/// `hot ci` on a one-task Hotfile that prints CARGO_TERM_COLOR, with `color` flags and env:
/// the whole output, coloured or plain, and the value the task saw (it prints it on stdout,
/// which hot's stdout carries).
#[track_caller]
fn colour_run(hotfile_env: &str, args: &[&str], env: &[(&str, &str)], coloured: bool, ctc: &str) {
    let mut test = Test::new()
        .hotfile(&format!(
            "task \"show\" {{\n    {hotfile_env}\n    run \"echo CTC=$CARGO_TERM_COLOR\"\n}}\n"
        ))
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CARGO_TERM_COLOR")
        .args(args);
    for (key, value) in env {
        test = test.env(key, value);
    }
    let test = if coloured {
        test.stdout(&format!(
            "\u{1b}[36m[show]\u{1b}[0m CTC={ctc}\n\n\
             node  result    duration\n\
             show  \u{1b}[32mok      \u{1b}[0m  [DURATION]\n\
             \u{1b}[32mall ok\u{1b}[0m\n"
        ))
        .stderr(
            "
            \u{1b}[2mhot:\u{1b}[0m \u{1b}[2m[TIME]\u{1b}[0m \u{1b}[1mstart: running show\u{1b}[0m
            \u{1b}[2mhot:\u{1b}[0m \u{1b}[32m✓\u{1b}[0m show ([DURATION])
            \u{1b}[2mhot:\u{1b}[0m \u{1b}[32mall ok\u{1b}[0m
            ",
        )
    } else {
        test.stdout(&format!(
            "[show] CTC={ctc}\n\nnode  result    duration\nshow  ok        [DURATION]\nall ok\n"
        ))
        .stderr(
            "
            hot: [TIME] start: running show
            hot: ✓ show ([DURATION])
            hot: all ok
            ",
        )
    };
    test.run();
}

#[test]
fn color_flag_and_environment_decide_colour() {
    // stderr is a pipe here: `auto` alone means no colour.
    colour_run("", &["ci"], &[], false, "");
    colour_run("", &["--color", "always", "ci"], &[], true, "always");
    colour_run("", &["ci"], &[("CLICOLOR_FORCE", "1")], true, "always");
    colour_run("", &["ci"], &[("CLICOLOR_FORCE", "0")], false, "");
    colour_run(
        "",
        &["ci"],
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")],
        false,
        "",
    );
    colour_run(
        "",
        &["ci", "--color=never"],
        &[("CLICOLOR_FORCE", "1")],
        false,
        "",
    );
    colour_run(
        "",
        &["ci", "--color=always"],
        &[("NO_COLOR", "1")],
        true,
        "always",
    );
}

#[test]
fn cargo_keeps_its_colours_when_hot_colours() {
    colour_run("", &["--color=always", "ci"], &[], true, "always");
    colour_run("", &["--color=never", "ci"], &[], false, "");
    // The user's own setting wins, in the environment or in the Hotfile.
    colour_run(
        "",
        &["--color=always", "ci"],
        &[("CARGO_TERM_COLOR", "never")],
        true,
        "never",
    );
    colour_run(
        "env CARGO_TERM_COLOR=\"auto\"",
        &["--color=always", "ci"],
        &[],
        true,
        "auto",
    );
}

/// What bash completion offers for `words` (the last one being completed), in `project`,
/// called as bash calls a completion function: command, current word, previous word.
fn bash_complete(project: &Project, script: &str, words: &[&str]) -> Vec<String> {
    let bin = std::path::Path::new(HOT)
        .parent()
        .expect("the binary's directory");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source {script}\nCOMP_WORDS=({})\nCOMP_CWORD={}\n\
         _hot_with_nodes hot \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        quoted.join(" "),
        words.len() - 1
    );
    let output = Command::new("bash")
        .arg("-c")
        .arg(program)
        .current_dir(project.path())
        .env("PATH", path)
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut words: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    words.sort();
    words
}

#[test]
fn bash_completion_offers_node_names_from_the_hotfile() {
    let project = Project::with_hotfile(TWO);
    let run = project.run(&["completions", "bash"]);
    run.code(0);
    project.write("hot.bash", &run.stdout);
    let script = project.path().join("hot.bash");
    let script = script.to_str().expect("a UTF-8 path");
    assert_eq!(
        bash_complete(&project, script, &["hot", "run", ""]),
        ["build", "serve"]
    );
    assert_eq!(
        bash_complete(&project, script, &["hot", "watch", "se"]),
        ["serve"]
    );
    assert_eq!(
        bash_complete(
            &project,
            script,
            &["hot", "-f", "Hotfile", "run", "build", "b"]
        ),
        ["build"]
    );
    // After `--` the words are the command's own arguments, not nodes.
    assert!(bash_complete(&project, script, &["hot", "run", "build", "--", ""]).is_empty());
    // Flags and commands still come from clap.
    assert_eq!(
        bash_complete(&project, script, &["hot", "run", "--j"]),
        ["--jobs", "--json"]
    );
    assert_eq!(
        bash_complete(&project, script, &["hot", "comp"]),
        ["completions"]
    );
    // Hidden helpers are not offered.
    assert!(bash_complete(&project, script, &["hot", "ma"]).is_empty());
    assert!(bash_complete(&project, script, &["hot", "__"]).is_empty());
}

/// The scripts are clap_complete's, hundreds of lines of its text: the test checks what hot
/// adds to them, and the bash test above runs the bash script for real.
#[test]
fn zsh_and_fish_completion_ask_hot_for_node_names() {
    let project = Project::with_hotfile(TWO);
    let zsh = project.run(&["completions", "zsh"]);
    zsh.code(0);
    assert!(zsh.stdout.contains("_hot_nodes() {"), "{}", zsh.stdout);
    // Both commands that take node names complete them with it.
    assert_eq!(
        zsh.stdout.matches(":_hot_nodes' \\").count(),
        2,
        "{}",
        zsh.stdout
    );
    let fish = project.run(&["completions", "fish"]);
    fish.code(0);
    assert!(
        fish.stdout
            .contains("__fish_seen_subcommand_from run watch\" -f -a \"(__hot_nodes)")
            && fish.stdout.contains("command hot $file __nodes"),
        "{}",
        fish.stdout
    );
    // What the scripts ask for: the node names, one per line; nothing without a Hotfile.
    Test::new()
        .hotfile(TWO)
        .args(["__nodes"])
        .stdout("build\nserve\n")
        .run();
    Test::new().args(["__nodes"]).run();
}

/// The pages are clap_mangen's roff, hundreds of lines: the test checks that every command has
/// one and that the pages cross-reference each other, not clap_mangen's layout.
#[test]
fn man_pages_cover_every_command() {
    let project = Project::new();
    let run = project.run(&["manpage"]);
    run.code(0);
    assert!(
        run.stdout.starts_with(".ie"),
        "{}",
        &run.stdout[..run.stdout.len().min(200)]
    );
    assert!(run.stdout.contains(".TH hot 1"), "{}", run.stdout);
    for command in ["watch", "run", "graph", "check", "ci", "why", "completions"] {
        assert!(
            run.stdout.contains(&format!("hot\\-{command}(1)")),
            "{command}:\n{}",
            run.stdout
        );
    }
    let run = project.run(&["manpage", "."]);
    run.code(0);
    for page in ["hot.1", "hot-run.1", "hot-completions.1"] {
        assert!(
            project.path().join(page).is_file(),
            "{page}: {}",
            run.stdout
        );
    }
}

#[test]
fn every_argument_in_help_has_a_description() {
    // An entry of `Arguments:` or `Options:` is described on its own line or, when clap wraps,
    // on the more indented line below it.
    let project = Project::new();
    for command in [
        "watch",
        "run",
        "graph",
        "check",
        "ci",
        "init",
        "why",
        "completions",
    ] {
        let run = project.run(&[command, "--help"]);
        run.code(0);
        let lines: Vec<&str> = run.stdout.lines().collect();
        let mut in_list = false;
        for (i, line) in lines.iter().enumerate() {
            if !line.starts_with(' ') {
                in_list = matches!(*line, "Arguments:" | "Options:");
                continue;
            }
            let entry = line.trim_start();
            let indent = line.len() - entry.len();
            if !in_list || indent > 6 || !(entry.starts_with('<') || entry.starts_with('-')) {
                continue;
            }
            // clap pads an entry with spaces, and lists `[possible values: …]` on its own.
            let text = entry.split_once("  ").map_or("", |(_, text)| text.trim());
            let described = !(text.is_empty() || text.starts_with('['))
                || lines.get(i + 1).is_some_and(|next| {
                    !next.trim().is_empty() && next.len() - next.trim_start().len() > indent + 4
                });
            assert!(
                described,
                "`hot {command} --help`: `{entry}` has no description"
            );
        }
    }
}

/// The help pages, whole: a snapshot, as they are too long to read inline (and unfiltered:
/// `100ms` in an example is text, not a measured duration).
#[test]
fn help_teaches_by_example() {
    let project = Project::new();
    let mut pages = String::new();
    for command in [
        "",
        "watch",
        "run",
        "graph",
        "check",
        "ci",
        "why",
        "completions",
    ] {
        let args: Vec<&str> = [command, "--help"]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect();
        let run = project.run(&args);
        run.code(0);
        assert_eq!(run.stderr, "", "hot {}", args.join(" "));
        pages.push_str(&format!("$ hot {}\n{}\n", args.join(" "), run.stdout));
    }
    insta::assert_snapshot!(pages);
}

/// Usage mistakes, command-line failures and Hotfile mistakes share one style.
#[test]
fn every_error_has_one_style() {
    let project = Project::with_hotfile("task \"a\" {\n    run \"true\"\n    after \"b\"\n}\n");
    let clap = project.run(&["--bogus"]);
    clap.code(2);
    let unknown = Project::with_hotfile(TWO).run(&["run", "biuld"]);
    unknown.code(2);
    let hotfile = project.run(&["check"]);
    hotfile.code(2);
    let none = Project::new().run(&["graph"]);
    none.code(2);
    insta::assert_snapshot!(format!(
        "$ hot --bogus\n{}\n$ hot run biuld\n{}\n$ hot check\n{}\n$ hot graph   (no Hotfile)\n{}",
        clap.stderr, unknown.stderr, hotfile.stderr, none.stderr
    ));
}

/// `hot ci > ci.log` keeps the summary: it is the result; the progress lines are not.
#[test]
fn ci_summary_goes_to_stdout() {
    // The nodes' own stdout lines, then the table and its verdict. `-j 1` keeps the nodes'
    // lines in one order.
    Test::new()
        .hotfile(ARGS)
        .args(["ci", "-j", "1"])
        .stdout(
            "
            [shell] <shell>
            [argv]  <argv>

            node   result    duration
            shell  ok        [DURATION]
            argv   ok        [DURATION]
            all ok
            ",
        )
        .stderr(
            "
            hot: [TIME] start: running shell, argv
            hot: ✓ shell ([DURATION])
            hot: ✓ argv ([DURATION])
            hot: all ok
            ",
        )
        .run();
}

#[test]
fn check_json_is_one_document_for_an_unsound_hotfile_too() {
    Test::new()
        .hotfile("task \"a\" {\n    run \"true\"\n    after \"b\"\n}\n")
        .args(["check", "--json"])
        .stdout(concat!(
            r#"{"errors":[{"code":"hot::unknown_after","column":11,"file":"Hotfile","#,
            r#""help":"did you mean `a`?","line":3,"#,
            r#""message":"`after` names no node called `b`","severity":"error"}],"#,
            r#""hotfile":"Hotfile","sound":false}"#,
            "\n"
        ))
        .status(USAGE)
        .run();
}

/// `--poll`'s interval is optional, so `--poll 1s` reads `1s` as a command or a node name.
#[test]
fn poll_with_a_separate_interval_says_to_write_equals() {
    Test::new()
        .hotfile(TWO)
        .args(["--poll", "1s"])
        .stderr(
            "
            hot::usage

              × unrecognized subcommand '1s'
              help: the interval of `--poll` is optional, so it is written with `=`: `--poll=1s`
            ",
        )
        .status(USAGE)
        .run();
    Test::new()
        .hotfile(TWO)
        .args(["watch", "--poll", "1s", "serve"])
        .stderr(
            "
            hot::unknown_node

              × no node named `1s` in Hotfile
              help: if `1s` is meant for `--poll`, write `--poll=1s`: its interval is optional, so it takes
                    `=`
            ",
        )
        .status(USAGE)
        .run();
}
