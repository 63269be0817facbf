//! The next steps `hot init` prints: the crates and the lines a server needs to take the
//! socket hot holds, with the ready line the written Hotfile waits for.

use std::fmt::Write as _;
use std::path::Path;

use super::cargo::Workspace;
use super::render::{READY_LINE, Service, relative};

/// A whole axum server that takes hot's socket. `{ADDR}` is its fallback address.
const AXUM_MAIN: &str = r#"use std::net::TcpListener;

fn main() -> std::io::Result<()> {
    // hot holds the port and passes it as fd 3; without hot, bind it here. This runs before
    // the runtime starts, because listenfd edits the environment.
    let listener = match listenfd::ListenFd::from_env().take_tcp_listener(0)? {
        Some(listener) => listener,
        None => TcpListener::bind("{ADDR}")?,
    };
    listener.set_nonblocking(true)?; // tokio needs it
    tokio::runtime::Runtime::new()?.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        // The ready line: hot switches to this instance once it is printed.
        println!("{READY}http://{}", listener.local_addr()?);
        let app = axum::Router::new()
            .route("/", axum::routing::get(|| async { "Hello from hot!\n" }));
        axum::serve(listener, app).await
    })
}"#;

/// The crates the snippet uses, as `cargo add` arguments.
const CRATES: &[(&str, &str)] = &[
    ("listenfd", "listenfd"),
    ("tokio", "tokio --features rt-multi-thread,net"),
    ("axum", "axum --no-default-features --features http1,tokio"),
];

/// Next steps for a Cargo project with these services.
pub fn cargo(workspace: &Workspace, services: &[Service], base: &Path) -> String {
    let single = workspace.members.len() == 1;
    let mut out = String::new();
    let Some(first) = services.first() else {
        out.push_str(
            "No binary in this project, so the Hotfile has checks only. Run `hot`: every save\n\
             reruns clippy, the tests and the build of what it affects.\n",
        );
        return out;
    };
    out.push_str("Next steps:\n\n1. The crates a server needs to take the socket hot holds:\n");
    let mut any = false;
    let mut packages: Vec<&str> = services.iter().map(|s| s.package.as_str()).collect();
    packages.dedup();
    for package in packages {
        let have = workspace
            .members
            .iter()
            .find(|p| p.name == package)
            .map(|p| p.dependencies.clone())
            .unwrap_or_default();
        for (name, args) in CRATES {
            if have.iter().any(|d| d == name) {
                continue;
            }
            any = true;
            let select = if single {
                String::new()
            } else {
                format!("-p {package} ")
            };
            let _ = writeln!(out, "     cargo add {select}{args}");
        }
    }
    if !any {
        out.push_str("     (all there already)\n");
    }
    let mains: Vec<String> = services
        .iter()
        .map(|s| {
            format!(
                "{} (service `{}`, 127.0.0.1:{})",
                relative(&s.main, base),
                s.node,
                s.port
            )
        })
        .collect();
    let _ = write!(
        out,
        "\n2. The server takes the socket (fd 3) instead of binding its own, and prints the line\n   \
         hot waits for (`ready log=\"^{READY_LINE}\"`). A whole axum server, for\n   {}:\n\n",
        mains.join(",\n   ")
    );
    let snippet = AXUM_MAIN
        .replace("{ADDR}", &format!("127.0.0.1:{}", first.port))
        .replace("{READY}", READY_LINE);
    for line in snippet.lines() {
        let _ = writeln!(out, "{}", format!("     {line}").trim_end());
    }
    let _ = write!(
        out,
        "\n3. Run `hot`, open http://127.0.0.1:{}, edit and save: clippy, the tests and the build\n   \
         run, then the new server takes over without a refused connection; a failing check\n   \
         leaves the old one serving.\n\n\
         Another framework (actix-web, hyper, ...) takes the socket the same way: see\n\
         docs/recipes.md in hot's repository.\n",
        first.port
    );
    out
}

/// Next steps for a project without Cargo.toml.
pub fn generic() -> String {
    "Next steps: put your command in the `check` task, uncomment the service if you have a\n\
     server (it must take its listening socket from fd 3: LISTEN_FDS=1), and run `hot`.\n\
     Recipes for Node, gunicorn and others: docs/recipes.md in hot's repository.\n"
        .to_owned()
}
