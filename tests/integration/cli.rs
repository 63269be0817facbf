//! The command line: where each flag goes, `hot run NAME -- ARGS`, `--json` and `--color`
//! on every command, completions, the man page, `--help` and the one error style.

use std::process::Command;

use crate::support::{HOT, Project};

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
    let project = Project::with_hotfile(TWO);
    let run = project.run(&["--poll", "ci"]);
    run.code(2);
    assert!(
        run.stderr.contains("`--poll` is for watch mode"),
        "{}",
        run.stderr
    );
    let run = project.run(&["-j", "2", "ci"]);
    run.code(2);
    assert!(run.stderr.contains("`hot ci -j N"), "{}", run.stderr);
    assert!(!project.path().join("ran").exists());
}

#[test]
fn jobs_is_offered_only_by_commands_that_run_things() {
    let project = Project::with_hotfile(TWO);
    for args in [
        &["graph", "-j", "2"][..],
        &["why", "-j", "2", "x"],
        &["check", "-j", "1"],
    ] {
        let run = project.run(args);
        run.code(2);
        assert!(
            run.stderr.contains("unexpected argument '-j'"),
            "{}",
            run.stderr
        );
    }
    project.run(&["ci", "-j", "1"]).code(0);
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
    let project = Project::with_hotfile(ARGS);
    let run = project.run(&["run", "shell", "--", "--nocapture", "a b", "it's"]);
    run.code(0);
    // The node's stdout is hot's stdout.
    assert!(
        run.stdout
            .contains("[shell] <shell><--nocapture><a b><it's>"),
        "{}",
        run.stdout
    );
    let run = project.run(&["run", "argv", "--", "--nocapture", "$HOME"]);
    run.code(0);
    assert!(
        run.stdout.contains("[argv] <argv><--nocapture><$HOME>"),
        "{}",
        run.stdout
    );
}

#[test]
fn run_arguments_after_double_dash_need_exactly_one_node() {
    let project = Project::with_hotfile(ARGS);
    let run = project.run(&["run", "shell", "argv", "--", "-x"]);
    run.code(2);
    assert!(run.stderr.contains("go to one node"), "{}", run.stderr);
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{text}"))
}

#[test]
fn json_is_a_document_for_graph_why_check_and_dry_run() {
    let project = Project::with_hotfile(TWO);
    project.write("src/a.txt", "1");

    let run = project.run(&["graph", "--json"]);
    run.code(0);
    assert_eq!(
        json(&run.stdout),
        json(&project.run(&["graph", "--format", "json"]).stdout)
    );

    let run = project.run(&["why", "--json", "src/a.txt", "README"]);
    run.code(0);
    let why = json(&run.stdout);
    assert_eq!(why["paths"][0]["watched_by"], serde_json::json!(["build"]));
    assert_eq!(why["paths"][0]["then"], serde_json::json!(["serve"]));
    assert_eq!(why["paths"][1]["watched_by"], serde_json::json!([]));

    let run = project.run(&["ci", "--dry-run", "--json"]);
    run.code(0);
    let plan = json(&run.stdout);
    assert_eq!(plan["steps"][0]["tasks"][0]["node"], "build");
    assert_eq!(plan["steps"][0]["tasks"][0]["run"], "echo built");
    assert_eq!(plan["not_run"], serde_json::json!(["serve"]));

    let run = project.run(&["check", "--json"]);
    run.code(0);
    let check = json(&run.stdout);
    assert_eq!(check["sound"], true);
    assert_eq!(
        (check["tasks"].as_u64(), check["services"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(check["warnings"].is_array(), "{check}");
}

#[test]
fn json_is_refused_where_it_has_no_meaning() {
    let project = Project::with_hotfile(TWO);
    let run = project.run(&["completions", "bash", "--json"]);
    run.code(2);
    assert!(run.stdout.contains("has no JSON output"), "{}", run.stdout);
    let run = project.run(&["graph", "--json", "--format", "dot"]);
    run.code(2);
    assert!(run.stdout.contains("--format dot"), "{}", run.stdout);
}

/// `hot ci` on a one-task Hotfile that prints CARGO_TERM_COLOR, with `color` flags and env:
/// hot's stderr, and the value the task saw (it prints it on stdout, which hot's stdout carries).
fn colour_run(hotfile_env: &str, args: &[&str], env: &[(&str, &str)]) -> (String, String) {
    let project = Project::with_hotfile(&format!(
        "task \"show\" {{\n    {hotfile_env}\n    run \"echo CTC=$CARGO_TERM_COLOR\"\n}}\n"
    ));
    let mut command = project.hot(args);
    command
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CARGO_TERM_COLOR");
    command.envs(env.iter().copied());
    let output = command.output().expect("hot runs");
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let ctc = stdout
        .lines()
        .find_map(|l| l.split("CTC=").nth(1))
        .unwrap_or_else(|| panic!("no CTC line in\n{stdout}"))
        .trim_end_matches("\u{1b}[0m")
        .to_owned();
    (stderr, ctc)
}

#[test]
fn color_flag_and_environment_decide_colour() {
    let escapes = |text: &str| text.contains('\u{1b}');
    // stderr is a pipe here: `auto` alone means no colour.
    assert!(!escapes(&colour_run("", &["ci"], &[]).0));
    assert!(escapes(
        &colour_run("", &["--color", "always", "ci"], &[]).0
    ));
    assert!(escapes(
        &colour_run("", &["ci"], &[("CLICOLOR_FORCE", "1")]).0
    ));
    assert!(!escapes(
        &colour_run("", &["ci"], &[("CLICOLOR_FORCE", "0")]).0
    ));
    assert!(!escapes(
        &colour_run("", &["ci"], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).0
    ));
    assert!(!escapes(
        &colour_run("", &["ci", "--color=never"], &[("CLICOLOR_FORCE", "1")]).0
    ));
    assert!(escapes(
        &colour_run("", &["ci", "--color=always"], &[("NO_COLOR", "1")]).0
    ));
}

#[test]
fn cargo_keeps_its_colours_when_hot_colours() {
    assert_eq!(colour_run("", &["--color=always", "ci"], &[]).1, "always");
    assert_eq!(colour_run("", &["--color=never", "ci"], &[]).1, "");
    // The user's own setting wins, in the environment or in the Hotfile.
    assert_eq!(
        colour_run(
            "",
            &["--color=always", "ci"],
            &[("CARGO_TERM_COLOR", "never")]
        )
        .1,
        "never"
    );
    assert_eq!(
        colour_run(
            "env CARGO_TERM_COLOR=\"auto\"",
            &["--color=always", "ci"],
            &[]
        )
        .1,
        "auto"
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
    assert!(bash_complete(&project, script, &["hot", "run", "--j"]).contains(&"--jobs".into()));
    assert_eq!(
        bash_complete(&project, script, &["hot", "comp"]),
        ["completions"]
    );
    // Hidden helpers are not offered.
    assert!(bash_complete(&project, script, &["hot", "ma"]).is_empty());
    assert!(bash_complete(&project, script, &["hot", "__"]).is_empty());
}

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
    assert_eq!(project.run(&["__nodes"]).stdout, "build\nserve\n");
    let empty = Project::new();
    let run = empty.run(&["__nodes"]);
    run.code(0);
    assert_eq!(run.stdout, "");
}

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
fn help_teaches_by_example() {
    let project = Project::new();
    let run = project.run(&["--help"]);
    run.code(0);
    assert!(run.stdout.contains("Examples:"), "{}", run.stdout);
    assert!(
        run.stdout.contains("hot run test -- parser"),
        "{}",
        run.stdout
    );
    for command in ["watch", "run", "graph", "check", "ci", "why", "completions"] {
        let run = project.run(&[command, "--help"]);
        run.code(0);
        assert!(
            run.stdout.contains(&format!("  hot {command}")),
            "{command}:\n{}",
            run.stdout
        );
    }
}

#[test]
fn missing_hotfile_suggests_hot_init() {
    let project = Project::new();
    let run = project.run(&["check"]);
    run.code(2);
    assert!(run.stderr.contains("run `hot init`"), "{}", run.stderr);
    assert!(!run.stderr.contains("Hotfile.example"), "{}", run.stderr);
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
    let project = Project::with_hotfile(ARGS);
    let run = project.run(&["ci"]);
    run.code(0);
    // The nodes' own stdout lines, then the table and its verdict.
    let lines: Vec<&str> = run.stdout.lines().filter(|l| !l.is_empty()).collect();
    let table = &lines[lines.len() - 4..];
    assert!(
        table[0].starts_with("node ") && table[0].contains("result"),
        "{}",
        run.stdout
    );
    assert_eq!(table[3], "all ok", "{}", run.stdout);
    assert!(
        lines[..lines.len() - 4].iter().all(|l| l.starts_with('[')),
        "{}",
        run.stdout
    );
    assert!(!run.stderr.contains("result"), "{}", run.stderr);
    assert!(run.stderr.contains("✓ shell"), "{}", run.stderr);
}

#[test]
fn check_json_is_one_document_for_an_unsound_hotfile_too() {
    let project = Project::with_hotfile("task \"a\" {\n    run \"true\"\n    after \"b\"\n}\n");
    let run = project.run(&["check", "--json"]);
    run.code(2);
    let check = json(&run.stdout);
    assert_eq!(check["sound"], false);
    let error = &check["errors"][0];
    assert_eq!(error["code"], "hot::unknown_after", "{check}");
    assert_eq!(
        (error["line"].as_u64(), error["column"].as_u64()),
        (Some(3), Some(11))
    );
    assert_eq!(error["help"], "did you mean `a`?");
}

/// `--poll`'s interval is optional, so `--poll 1s` reads `1s` as a command or a node name.
#[test]
fn poll_with_a_separate_interval_says_to_write_equals() {
    let project = Project::with_hotfile(TWO);
    for args in [&["--poll", "1s"][..], &["watch", "--poll", "1s", "serve"]] {
        let run = project.run(args);
        run.code(2);
        assert!(run.stderr.contains("`--poll=1s`"), "{}", run.stderr);
    }
}
