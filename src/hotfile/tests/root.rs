//! `root "DIR"`: the project root above the Hotfile's directory, and its mistakes.

use super::*;

/// A workspace `ws` with a member `api` holding the Hotfile, and a file `ws/file`.
fn workspace() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let api = dir.path().join("ws/api");
    std::fs::create_dir_all(&api).unwrap();
    std::fs::write(dir.path().join("ws/file"), "").unwrap();
    (dir, api.join("Hotfile"))
}

fn messages(hotfile: &Path, text: &str) -> Vec<String> {
    std::fs::write(hotfile, text).unwrap();
    match load(hotfile) {
        Ok(_) => Vec::new(),
        Err(diags) => {
            for mistake in diags.iter() {
                assert!(
                    mistake.labels().is_some_and(|mut l| l.next().is_some()),
                    "no caret: {mistake}"
                );
            }
            diags.messages()
        }
    }
}

#[test]
fn root_names_the_project_root_above_the_hotfile() {
    let (dir, hotfile) = workspace();
    let ws = dir.path().join("ws");
    let task = "task \"t\" { watch \"shared/**\"; run \"true\" }\n";

    std::fs::write(&hotfile, format!("root \"..\"\n{task}")).unwrap();
    let project = load(&hotfile).unwrap();
    assert_eq!(project.root, ws);
    assert_eq!(project.hotfile, hotfile);
    // `dir` is relative to the root too.
    std::fs::write(
        &hotfile,
        "root \"..\"\ntask \"t\" { dir \"api\"; run \"true\" }\n",
    )
    .unwrap();
    let project = load(&hotfile).unwrap();
    assert_eq!(&*project.nodes[0].dir, ws.join("api").as_path());

    // `.` is the Hotfile's own directory: the same as no `root`.
    std::fs::write(&hotfile, format!("root \".\"\n{task}")).unwrap();
    assert_eq!(load(&hotfile).unwrap().root, ws.join("api"));
    std::fs::write(&hotfile, task).unwrap();
    assert_eq!(load(&hotfile).unwrap().root, ws.join("api"));
}

#[test]
fn root_mistakes() {
    let (_dir, hotfile) = workspace();
    let task = "task \"t\" { run \"true\" }\n";
    let cases: &[(&str, &[&str])] = &[
        ("root \"api\"", &["`root` \"api\" does not exist"]),
        (
            "root \"../file\"",
            &["`root` \"../file\" is not a directory"],
        ),
        ("root \"../api\"", &[]),
        ("root \"../../ws/api/..\"", &[]),
        ("root \"../..\"", &[]),
        ("root \"/\"", &[]),
        ("root \"../nope\"", &["`root` \"../nope\" does not exist"]),
        ("root", &["`root` needs a directory"]),
        ("root 1", &["`root` expects a string, found a number `1`"]),
        ("root \"..\" \"..\"", &["unexpected argument to `root`"]),
        (
            "root \"..\"; root \"..\"",
            &["`root` is given twice in the Hotfile"],
        ),
        ("root \"..\" { x }", &["`root` takes no block"]),
    ];
    for (line, expected) in cases {
        let got = messages(&hotfile, &format!("{line}\n{task}"));
        assert_eq!(&got, expected, "{line}");
    }
    // A sibling or a child of the Hotfile's directory does not contain it.
    std::fs::create_dir_all(hotfile.with_file_name("sub")).unwrap();
    std::fs::create_dir_all(hotfile.parent().unwrap().with_file_name("web")).unwrap();
    for line in ["root \"sub\"", "root \"../web\""] {
        let got = messages(&hotfile, &format!("{line}\n{task}"));
        let dir = &line[6..line.len() - 1];
        assert_eq!(
            got,
            [format!("`root` \"{dir}\" does not contain the Hotfile")]
        );
    }
}

/// The diagnostic points at the directory with a caret, and hot check's exit status is 2.
#[test]
fn root_outside_is_shown_with_a_caret() {
    let (_dir, hotfile) = workspace();
    std::fs::create_dir_all(hotfile.with_file_name("sub")).unwrap();
    std::fs::write(&hotfile, "root \"sub\"\ntask \"t\" { run \"true\" }\n").unwrap();
    let text = crate::report::render_plain(&load(&hotfile).unwrap_err(), 80);
    assert!(text.contains("1 │ root \"sub\""), "{text}");
    assert!(text.contains("1:6]") && text.contains("──┬──"), "{text}");
    assert!(text.contains("one above it"), "{text}");
}
