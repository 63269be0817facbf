//! The documentation tells the truth: every Hotfile in it is sound, and the Hotfile reference
//! lists exactly the forms the parser accepts, each in the places it accepts them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::support::Project;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every Markdown file under docs/.
fn documents() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    let mut dirs = vec![root().join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("docs/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The ```kdl blocks of a Markdown text, with the line each starts on.
fn kdl_blocks(text: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start();
        match &mut current {
            None if fence.starts_with("```kdl") => current = Some((i + 2, String::new())),
            Some(_) if fence.starts_with("```") => blocks.extend(current.take()),
            Some((_, block)) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

#[test]
fn every_hotfile_in_the_docs_passes_check() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in documents() {
        let text = std::fs::read_to_string(&file).expect("a readable document");
        for (line, block) in kdl_blocks(&text) {
            checked += 1;
            let project = Project::with_hotfile(&block);
            let run = project.run(&["check"]);
            if run.code != Some(0) {
                let name = file.strip_prefix(root()).unwrap_or(&file).display();
                failures.push(format!("{name}:{line}:\n{}", run.stderr));
            }
        }
    }
    // README.md has one, docs/hotfile.md one, docs/recipes.md twelve.
    assert!(checked >= 14, "only {checked} Hotfiles found in the docs");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// One row of the reference table: the node, where it may go, a line that uses it.
#[derive(Debug)]
struct Row {
    name: String,
    places: Vec<String>,
    example: String,
}

fn reference() -> Vec<Row> {
    let text = std::fs::read_to_string(root().join("docs/hotfile.md")).expect("docs/hotfile.md");
    let table = text
        .split("## Reference")
        .nth(1)
        .expect("a `## Reference` section");
    let unquote = |cell: &str| cell.trim().trim_matches('`').to_owned();
    table
        .lines()
        .skip_while(|l| !l.starts_with("| node"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.split(" | ").collect();
            Row {
                name: unquote(cells[0].trim_start_matches('|')),
                places: cells[1].split(',').map(|p| p.trim().to_owned()).collect(),
                example: unquote(cells[2]),
            }
        })
        .collect()
}

/// The names the parser lists in its help for an unknown node (or property) in `hotfile`.
fn accepted(hotfile: &str, after: &str) -> BTreeSet<String> {
    let run = Project::with_hotfile(hotfile).run(&["check"]);
    run.code(2);
    let (_, list) = run
        .stderr
        .split_once(&format!(" {after} `"))
        .unwrap_or_else(|| panic!("no `{after}` in\n{}", run.stderr));
    // The help may wrap; it ends where the next paragraph or diagnostic begins.
    let end = ["\n\n", "help:", "×"]
        .iter()
        .filter_map(|stop| list.find(stop))
        .min()
        .unwrap_or(list.len());
    format!("`{}", &list[..end])
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// A Hotfile that uses `example` in `place`, and nothing unsound.
fn hotfile_with(place: &str, example: &str) -> String {
    let other = "task \"other\" {\n    run \"true\"\n}\n";
    let body = |example: &str| {
        if example.starts_with("run ") {
            format!("    {example}\n")
        } else {
            format!("    run \"true\"\n    {example}\n")
        }
    };
    match place {
        "top" => format!("{example}\n{other}"),
        "task" => format!("task \"t\" {{\n{}}}\n{other}", body(example)),
        "service" => format!("service \"s\" {{\n{}}}\n{other}", body(example)),
        "defaults" => format!("defaults {{\n    {example}\n}}\n{other}"),
        _ => panic!("unknown place `{place}` in docs/hotfile.md"),
    }
}

#[test]
fn the_hotfile_reference_lists_every_form_the_parser_accepts() {
    let rows = reference();
    let documented = |place: &str| -> BTreeSet<String> {
        rows.iter()
            .filter(|r| r.places.iter().any(|p| p == place))
            .map(|r| r.name.clone())
            .collect()
    };
    let unknown = "qqqqqqqqqq \"x\"";
    let parser = [
        ("top", accepted(&format!("{unknown}\n"), "holds")),
        (
            "task",
            accepted(
                &format!("task \"t\" {{\n    run \"true\"\n    {unknown}\n}}\n"),
                "holds",
            ),
        ),
        (
            "service",
            accepted(
                &format!("service \"s\" {{\n    run \"true\"\n    {unknown}\n}}\n"),
                "holds",
            ),
        ),
        (
            "defaults",
            accepted(&format!("defaults {{\n    {unknown}\n}}\n"), "holds"),
        ),
    ];
    for (place, names) in &parser {
        assert_eq!(
            &documented(place),
            names,
            "nodes in {place}: docs/hotfile.md vs the parser"
        );
    }
    // Properties: each one the parser takes is named in the reference as `key=`.
    let text = std::fs::read_to_string(root().join("docs/hotfile.md")).expect("docs/hotfile.md");
    let properties = [
        (
            "stop",
            accepted(
                "task \"t\" {\n    run \"true\"\n    stop qqqqqqqqqq=\"1\"\n}\n",
                "takes",
            ),
        ),
        (
            "ready",
            accepted(
                "service \"s\" {\n    run \"true\"\n    ready qqqqqqqqqq=\"1\"\n}\n",
                "takes",
            ),
        ),
    ];
    for (node, keys) in properties {
        assert!(!keys.is_empty());
        for key in keys {
            assert!(
                text.contains(&format!("{key}=")),
                "`{node} {key}=` is not documented"
            );
        }
    }
}

#[test]
fn every_form_in_the_hotfile_reference_parses_where_it_is_placed() {
    let rows = reference();
    assert!(rows.len() >= 14, "{rows:?}");
    for row in rows {
        assert!(
            row.example.starts_with(&row.name),
            "the example of `{}` does not use it: {}",
            row.name,
            row.example
        );
        for place in &row.places {
            let hotfile = hotfile_with(place, &row.example);
            let run = Project::with_hotfile(&hotfile).run(&["check"]);
            assert_eq!(
                run.code,
                Some(0),
                "`{}` in {place}:\n{hotfile}\n{}",
                row.name,
                run.stderr
            );
        }
    }
}
