//! Which binaries are servers, which framework they use, whether they take hot's socket
//! already, and which line they print once they serve.
//!
//! Decided from what cargo knows (the package's dependency names) and from the binary's own
//! source: a binary serves when its source binds or serves (`TcpListener`, `HttpServer`,
//! `serve(`, `listen(`, rocket's `launch`). A dependency on a server crate alone is not
//! enough: axum's examples hold a websocket *client* in a package that depends on axum. Each
//! verdict carries the rule that decided it, for the user to read.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

use super::{Bin, Package};

/// Frameworks in the order they are looked for: the first one a package depends on names it
/// (hyper last: the others depend on it, but only a hyper server names it itself).
pub(crate) const FRAMEWORKS: &[&str] = &[
    "axum",
    "actix-web",
    "poem",
    "rocket",
    "warp",
    "salvo",
    "tide",
    "hyper",
];

/// What hot made of one binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub serves: bool,
    /// The rule that put it in or out, as a sentence fragment: "src/main.rs binds or serves".
    pub rule: String,
    /// The web framework it depends on (one of [`FRAMEWORKS`]).
    pub framework: Option<&'static str>,
    /// Its source takes a listening socket from the environment already (`listenfd`,
    /// `LISTEN_FDS`, fd 3).
    pub takes_socket: bool,
    /// A `ready log=` regex for the line it prints once it serves, when its source prints one.
    pub ready: Option<String>,
}

/// Words a serving program's source uses: std's and tokio's listeners, actix's
/// `HttpServer`, listenfd, `axum::serve(` / `warp::serve(`, tide's `listen(`, rocket's
/// `#[launch]`.
static LISTENS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(TcpListener|UnixListener|HttpServer|ListenFd|LISTEN_FDS|launch)\b|\b(serve|listen)\s*\(")
        .expect("a valid regex")
});

static TAKES_SOCKET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(ListenFd|LISTEN_FDS)\b|from_raw_fd\(\s*3\s*\)").expect("a valid regex")
});

/// A line printed to stdout or stderr announcing the server: its text up to the first `{`.
/// Only `print!`-like macros: a `tracing::debug!` or `info!` line may never be printed (its
/// level is filtered, or no subscriber is set), and a Hotfile must not wait for it forever.
static ANNOUNCES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b(?:e?println|e?print)!\s*\(\s*"([^"{}\\]*(?i-u:listening|serving on|serving at|launched from|server (?:is )?running|server started|started server)[^"{}\\]*)"#)
        .expect("a valid regex")
});

/// At most this many bytes of source are read per binary.
const MAX_SOURCE: u64 = 4 << 20;

/// Whether `bin` of `package` serves, and why.
pub(crate) fn verdict(package: &Package, bin: &Bin) -> Verdict {
    let framework = FRAMEWORKS
        .iter()
        .find(|f| package.dependencies.iter().any(|d| d == *f))
        .copied();
    let server_crate = framework.or_else(|| {
        package
            .dependencies
            .iter()
            .find(|d| *d == "listenfd" || *d == "tiny_http")
            .map(String::as_str)
    });
    let source = source(package, bin);
    let main = bin
        .main
        .strip_prefix(&package.dir)
        .unwrap_or(&bin.main)
        .display()
        .to_string();
    let listens = LISTENS
        .find(&source)
        .map(|m| m.as_str().trim_end_matches('('));
    let (serves, rule) = match (listens, server_crate) {
        (Some(word), Some(server)) => (
            true,
            format!("depends on {server} and {main} serves (`{word}`)"),
        ),
        (Some(word), None) => (true, format!("{main} serves (`{word}`)")),
        (None, Some(server)) => (
            false,
            format!("depends on {server}, but {main} never binds or serves: a client or a tool"),
        ),
        (None, None) => (
            false,
            format!("no server crate among its dependencies and {main} never binds or serves"),
        ),
    };
    let ready = ANNOUNCES
        .captures(&source)
        .map(|c| c[1].to_owned())
        .filter(|text| !text.trim().is_empty())
        .map(|text| regex::escape(&text));
    Verdict {
        serves,
        rule,
        framework,
        takes_socket: TAKES_SOCKET.is_match(&source),
        ready,
    }
}

/// The binary's source without its comment lines: its crate root and, for a `main.rs`, the
/// modules beside it (not `src/bin`, nor the roots of the package's other targets: those are
/// crates of their own).
fn source(package: &Package, bin: &Bin) -> String {
    let mut files = vec![bin.main.clone()];
    if bin.main.file_name().is_some_and(|n| n == "main.rs")
        && let Some(dir) = bin.main.parent()
    {
        modules(dir, &mut files);
    }
    files.retain(|f| f == &bin.main || !package.sources.contains(f));
    let mut text = String::new();
    let mut budget = MAX_SOURCE;
    for file in files {
        let Ok(content) = std::fs::read_to_string(&file) else {
            continue;
        };
        if content.len() as u64 > budget {
            break;
        }
        budget -= content.len() as u64;
        for line in content.lines() {
            if !line.trim_start().starts_with("//") {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    text
}

/// The `.rs` files below `dir`, except under `bin` and the crate root already listed.
fn modules(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    entries.sort();
    for path in entries {
        if files.len() > 256 {
            return;
        }
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "bin") {
                modules(&path, files);
            }
        } else if path.extension().is_some_and(|e| e == "rs") && !files.contains(&path) {
            files.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(deps: &[&str], main: &str) -> Verdict {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::create_dir_all(dir.path().join("src")).expect("src");
        let path = dir.path().join("src/main.rs");
        std::fs::write(&path, main).expect("main.rs");
        let package = Package {
            dependencies: deps.iter().map(|d| (*d).to_owned()).collect(),
            ..Package::at(dir.path())
        };
        let bin = Bin {
            name: "app".into(),
            main: path,
            required_features: Vec::new(),
        };
        verdict(&package, &bin)
    }

    #[test]
    fn a_client_depending_on_axum_is_not_a_server() {
        let v = judge(
            &["axum", "tokio-tungstenite"],
            "// talks to a websocket server\nfn main() { connect_async(url); }\n",
        );
        assert!(!v.serves, "{v:?}");
        assert!(
            v.rule
                .contains("depends on axum, but src/main.rs never binds"),
            "{}",
            v.rule
        );
    }

    #[test]
    fn an_axum_server_taking_the_socket_and_printing_its_address() {
        let v = judge(
            &["axum", "listenfd", "tokio"],
            "let mut listenfd = ListenFd::from_env();\nprintln!(\"listening on {}\", addr);\naxum::serve(listener, app)\n",
        );
        assert!(v.serves && v.takes_socket, "{v:?}");
        assert_eq!(v.framework, Some("axum"));
        assert_eq!(v.ready.as_deref(), Some("listening on "));
    }

    #[test]
    fn a_std_server_binding_its_own_port() {
        let v = judge(
            &[],
            "let l = std::net::TcpListener::bind(\"127.0.0.1:80\")?; // no print\n",
        );
        assert!(v.serves && !v.takes_socket, "{v:?}");
        assert_eq!(v.framework, None);
        assert_eq!(v.ready, None);
        assert_eq!(v.rule, "src/main.rs serves (`TcpListener`)");
    }

    /// axum's chat example logs "listening on" with `tracing::debug!`, which its default
    /// filter may never print: waiting for it would wait forever.
    #[test]
    fn a_line_logged_at_some_level_is_not_a_ready_line() {
        let v = judge(
            &["axum"],
            "let listener = tokio::net::TcpListener::bind(a).await?;\ntracing::debug!(\"listening on {}\", a);\n",
        );
        assert!(v.serves, "{v:?}");
        assert_eq!(v.ready, None);
    }
}
