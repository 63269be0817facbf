//! `Test`: one run of `hot` as a row of a table, after just's `tests/test.rs`.
//!
//! Set the Hotfile, other files, arguments, stdin and environment; state the exact stdout,
//! stderr and exit status; `.run()` checks all three at once and shows a line diff of each
//! one that differs. Expected text starting with a newline is unindented, so a table can sit
//! indented in the test. What varies from run to run is normalised before comparing:
//!
//! | what                                   | becomes        |
//! |----------------------------------------|----------------|
//! | the project directory (and its realpath) | `[ROOT]`     |
//! | `2026-12-06T04:43:43.123+00:00`        | `[TIMESTAMP]+00:00` |
//! | `04:43:43`                             | `[TIME]`       |
//! | `45ms`, `1.23s`                        | `[DURATION]`   |
//! | `"duration_ms":12.5` (any `*_ms` key)  | `"duration_ms":[MS]` |
//! | `pid 1234`, `"pid":1234`               | `pid [PID]`, `"pid":[PID]` |
//!
//! hot runs with `NO_COLOR=1` and `TZ=UTC` unless the test sets them (`.env`, `.env_remove`).
//! A test adds its own with `.filter(regex, replacement)`. Where output is unordered by nature
//! (parallel tasks), `.unordered_stderr()` compares lines as multisets, and the test says why.

// A builder for every test file: not each uses every method.
#![allow(dead_code)]

use std::io::Write;
use std::process::Stdio;

use regex::Regex;

use crate::support::Project;

/// hot's documented exit statuses, stated here rather than imported: a test pins the
/// contract, so a change to a number in `src/` fails it.
pub const OK: i32 = 0;
pub const FAILED: i32 = 1;
pub const USAGE: i32 = 2;

#[must_use]
pub struct Test {
    project: Project,
    hotfile: Option<String>,
    args: Vec<String>,
    env: Vec<(String, Option<String>)>,
    stdin: Option<String>,
    current_dir: String,
    stdout: String,
    stderr: String,
    status: i32,
    filters: Vec<(Regex, String)>,
    /// stdout's and stderr's lines compared in any order.
    unordered: (bool, bool),
}

/// A finished run: its normalised output, and the project for checking files afterwards.
pub struct Output {
    pub project: Project,
    pub stdout: String,
    pub stderr: String,
}

impl Test {
    pub fn new() -> Test {
        Test {
            project: Project::new(),
            hotfile: None,
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            current_dir: String::new(),
            stdout: String::new(),
            stderr: String::new(),
            status: OK,
            filters: Vec::new(),
            unordered: (false, false),
        }
    }

    /// The Hotfile (unindented when it starts with a newline). Without it there is none.
    pub fn hotfile(mut self, text: &str) -> Test {
        self.hotfile = Some(unindent(text));
        self
    }

    /// Another file of the project, created with its parent directories.
    pub fn write(self, relative: &str, contents: &str) -> Test {
        self.project.write(relative, contents);
        self
    }

    /// A file with its executable bits set.
    pub fn executable(self, relative: &str, contents: &str) -> Test {
        use std::os::unix::fs::PermissionsExt;
        self.project.write(relative, contents);
        let path = self.project.path().join(relative);
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .expect("chmod a project file");
        self
    }

    pub fn arg(mut self, arg: &str) -> Test {
        self.args.push(arg.to_owned());
        self
    }

    pub fn args<'a>(mut self, args: impl AsRef<[&'a str]>) -> Test {
        for arg in args.as_ref() {
            self = self.arg(arg);
        }
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Test {
        self.env.push((key.to_owned(), Some(value.to_owned())));
        self
    }

    pub fn env_remove(mut self, key: &str) -> Test {
        self.env.push((key.to_owned(), None));
        self
    }

    /// What hot reads on stdin; without it, stdin is `/dev/null`.
    pub fn stdin(mut self, text: &str) -> Test {
        self.stdin = Some(text.to_owned());
        self
    }

    /// Where hot runs, relative to the project.
    pub fn current_dir(mut self, relative: &str) -> Test {
        self.current_dir = relative.to_owned();
        self
    }

    pub fn stdout(mut self, expected: &str) -> Test {
        self.stdout = unindent(expected);
        self
    }

    pub fn stderr(mut self, expected: &str) -> Test {
        self.stderr = unindent(expected);
        self
    }

    pub fn status(mut self, expected: i32) -> Test {
        self.status = expected;
        self
    }

    /// Replaces every match of `pattern` in both streams, after the standard filters.
    pub fn filter(mut self, pattern: &str, replacement: &str) -> Test {
        let regex = Regex::new(pattern).expect("a valid filter pattern");
        self.filters.push((regex, replacement.to_owned()));
        self
    }

    /// Compares stdout's lines as a multiset, for output whose order is not defined; the
    /// test says why.
    pub fn unordered_stdout(mut self) -> Test {
        self.unordered.0 = true;
        self
    }

    /// Compares stderr's lines as a multiset (parallel tasks finish in either order).
    pub fn unordered_stderr(mut self) -> Test {
        self.unordered.1 = true;
        self
    }

    pub fn path(&self) -> &std::path::Path {
        self.project.path()
    }

    /// Runs hot and asserts stdout, stderr and status together.
    #[track_caller]
    pub fn run(self) -> Output {
        if let Some(hotfile) = &self.hotfile {
            self.project.write("Hotfile", hotfile);
        }
        let mut command = self.project.hot(&[]);
        command
            .env("TZ", "UTC")
            .args(&self.args)
            .current_dir(self.project.path().join(&self.current_dir))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in &self.env {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        if self.stdin.is_some() {
            command.stdin(Stdio::piped());
        }
        let mut child = command.spawn().expect("hot starts");
        if let Some(text) = &self.stdin {
            let mut pipe = child.stdin.take().expect("piped stdin");
            // hot may exit without reading it all; that is its business, not the test's.
            let _ = pipe.write_all(text.as_bytes());
        }
        let output = child.wait_with_output().expect("hot runs");
        let status = output.status.code().unwrap_or(-1);
        let stdout = self.normalise(&String::from_utf8_lossy(&output.stdout));
        let stderr = self.normalise(&String::from_utf8_lossy(&output.stderr));

        let mut report = String::new();
        if status != self.status {
            report.push_str(&format!("status: expected {}, got {status}\n", self.status));
        }
        for (name, expected, actual, unordered) in [
            ("stdout", &self.stdout, &stdout, self.unordered.0),
            ("stderr", &self.stderr, &stderr, self.unordered.1),
        ] {
            let (expected, actual) = if unordered {
                (sort_lines(expected), sort_lines(actual))
            } else {
                (expected.clone(), actual.clone())
            };
            if expected != actual {
                report.push_str(&diff(name, &expected, &actual));
            }
        }
        if !report.is_empty() {
            panic!(
                "`hot {}` differs from the expectation:\n{report}\n--- actual stdout\n{stdout}\n--- actual stderr\n{stderr}",
                self.args.join(" ")
            );
        }
        Output {
            project: self.project,
            stdout,
            stderr,
        }
    }

    fn normalise(&self, text: &str) -> String {
        let mut text = normalise(self.project.path(), text);
        for (regex, replacement) in &self.filters {
            text = regex.replace_all(&text, replacement.as_str()).into_owned();
        }
        text
    }
}

/// `text` through the standard filters, `root` being the project directory: for a test that
/// must run hot some other way (its stdout into a file, say) and still compare exactly.
pub fn normalise(root: &std::path::Path, text: &str) -> String {
    let mut text = text.to_owned();
    let real = root.canonicalize().unwrap_or_else(|_| root.to_owned());
    // The longer first, so a realpath that extends the other is replaced whole.
    let mut roots = [real.display().to_string(), root.display().to_string()];
    roots.sort_by_key(|r| std::cmp::Reverse(r.len()));
    for root in &roots {
        text = text.replace(root.as_str(), "[ROOT]");
    }
    for (regex, replacement) in standard_filters() {
        text = regex.replace_all(&text, replacement.as_str()).into_owned();
    }
    text
}

fn standard_filters() -> &'static [(Regex, String)] {
    static FILTERS: std::sync::OnceLock<Vec<(Regex, String)>> = std::sync::OnceLock::new();
    FILTERS.get_or_init(|| {
        [
            (
                // The offset stays: it is what says a time is local.
                r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?",
                "[TIMESTAMP]",
            ),
            // Not `\b`: a time right after a colour code (`\x1b[2m12:05:02`) has none.
            (
                r"(?m)(^|[^\d:])\d{2}:\d{2}:\d{2}([^\d:]|$)",
                "${1}[TIME]${2}",
            ),
            (r"\b(\d+ms|\d+\.\d{2}s)\b", "[DURATION]"),
            (r#""(\w+_ms)":\d+(\.\d+)?"#, r#""$1":[MS]"#),
            (r"\bpid (\d+)\b", "pid [PID]"),
            (r#""pid":\d+"#, r#""pid":[PID]"#),
        ]
        .into_iter()
        .map(|(pattern, replacement)| {
            (
                Regex::new(pattern).expect("a valid pattern"),
                replacement.to_owned(),
            )
        })
        .collect()
    })
}

/// Text that starts with a newline loses it and the indentation its lines share, so an
/// expectation can sit indented in the test; a last line of only spaces is dropped.
pub fn unindent(text: &str) -> String {
    let Some(body) = text.strip_prefix('\n') else {
        return text.to_owned();
    };
    let indent = body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    let mut out = String::new();
    for line in body.split_inclusive('\n') {
        if line.trim().is_empty() {
            // A blank line, or the closing quote's indentation.
            if line.ends_with('\n') {
                out.push('\n');
            }
        } else {
            out.push_str(&line[indent..]);
        }
    }
    out
}

fn sort_lines(text: &str) -> String {
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    lines.sort_unstable();
    lines.concat()
}

/// Asserts two texts are the same, showing a line diff when not.
#[track_caller]
pub fn assert_same(name: &str, expected: &str, actual: &str) {
    assert!(
        expected == actual,
        "{name} differs:\n{}",
        diff(name, expected, actual)
    );
}

fn diff(name: &str, expected: &str, actual: &str) -> String {
    let diff = similar::TextDiff::from_lines(expected, actual);
    format!(
        "{}",
        diff.unified_diff()
            .context_radius(3)
            .header(&format!("expected {name}"), &format!("actual {name}"))
    )
}

#[test]
fn unindent_keeps_tables_readable() {
    assert_eq!(unindent("\n    a\n      b\n\n    c\n    "), "a\n  b\n\nc\n");
    assert_eq!(unindent("  kept as is\n"), "  kept as is\n");
}

#[test]
fn a_mismatch_fails_the_run() {
    let result = std::panic::catch_unwind(|| {
        Test::new().args(["__nodes"]).stdout("something\n").run();
    });
    assert!(result.is_err(), "an unmet expectation must fail");
}

#[test]
fn filters_replace_what_varies() {
    let root = std::path::Path::new("/tmp/hot-test-x");
    assert_eq!(
        normalise(
            root,
            "hot: 12:05:02 start\n\u{1b}[2m12:05:02\u{1b}[0m\n✓ a (45ms) b (1.23s)\n\
             {\"time\":\"2026-12-06T04:43:43.123+05:30\",\"duration_ms\":12.5,\"pid\":4242}\n\
             pid 4242 in /tmp/hot-test-x/sub, at 127.0.0.1:3000\n"
        ),
        "hot: [TIME] start\n\u{1b}[2m[TIME]\u{1b}[0m\n✓ a ([DURATION]) b ([DURATION])\n\
         {\"time\":\"[TIMESTAMP]+05:30\",\"duration_ms\":[MS],\"pid\":[PID]}\n\
         pid [PID] in [ROOT]/sub, at 127.0.0.1:3000\n"
    );
}
