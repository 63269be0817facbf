//! The next steps `hot init` prints: the crates and the lines a server needs to take the
//! socket hot holds, with the ready line the written Hotfile waits for.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::choose::Choice;
use super::render::{READY_LINE, Service, relative};
use crate::cargo::Workspace;
use crate::report::printable;

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

/// The lines that make a server of each framework take hot's socket, with the crates they
/// need (`cargo add` arguments). `{ADDR}` is the address without hot.
const TOKIO_LISTENER: &str = r#"let listener = match listenfd::ListenFd::from_env().take_tcp_listener(0)? {
    Some(listener) => {
        // hot's socket (fd 3)
        listener.set_nonblocking(true)?;
        tokio::net::TcpListener::from_std(listener)?
    }
    None => tokio::net::TcpListener::bind("{ADDR}").await?,
};
println!("{READY}http://{}", listener.local_addr()?);"#;

fn framework_lines(framework: &str) -> (&'static str, String) {
    let tokio = TOKIO_LISTENER.to_owned();
    match framework {
        "axum" => ("listenfd", tokio + "\naxum::serve(listener, app).await?;"),
        "hyper" => (
            "listenfd",
            tokio + "\n// then accept on `listener` as before: listener.accept().await?",
        ),
        "warp" => (
            "listenfd tokio-stream --features net",
            tokio
                + "\nwarp::serve(routes)\n    .run_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))\n    .await;",
        ),
        "salvo" => (
            "listenfd",
            tokio
                + "\nlet acceptor = salvo::conn::TcpAcceptor::try_from(listener)?;\nsalvo::Server::new(acceptor).serve(router).await;",
        ),
        "actix-web" => (
            "listenfd",
            r#"let server = actix_web::HttpServer::new(|| actix_web::App::new() /* your app */);
let server = match listenfd::ListenFd::from_env().take_tcp_listener(0)? {
    Some(listener) => server.listen(listener)?, // hot's socket (fd 3)
    None => server.bind("{ADDR}")?,
};
println!("{READY}http://{}", server.addrs()[0]);
server.run().await"#
                .to_owned(),
        ),
        "poem" => (
            "listenfd",
            r#"use poem::listener::{Acceptor, Listener};
let acceptor = match listenfd::ListenFd::from_env().take_tcp_listener(0)? {
    Some(listener) => poem::listener::TcpAcceptor::from_std(listener)?.boxed(), // hot's socket (fd 3)
    None => poem::listener::TcpListener::bind("{ADDR}").into_acceptor().await?.boxed(),
};
println!("{READY}{:?}", acceptor.local_addr());
poem::Server::new_with_acceptor(acceptor).run(app).await"#
                .to_owned(),
        ),
        "tide" => (
            "listenfd",
            r#"// hot's socket is listening already: the line may come first.
println!("{READY}http://{ADDR}");
match listenfd::ListenFd::from_env().take_tcp_listener(0)? {
    Some(listener) => app.listen(listener).await?, // hot's socket (fd 3)
    None => app.listen("{ADDR}").await?,
}"#
            .to_owned(),
        ),
        "rocket" => (
            "",
            "// Rocket 0.5 cannot take a listening socket: the Hotfile runs it on ROCKET_PORT\n\
             // without one, and hot stops the old instance before it starts the new one."
                .to_owned(),
        ),
        _ => ("", String::new()),
    }
}

/// Next steps for a Cargo project: which binaries serve and why, what each server needs to
/// take hot's socket, and how to get what was left out.
pub(super) fn cargo(workspace: &Workspace, choice: &Choice, services: &[Service]) -> String {
    let base = choice.base.as_path();
    let select = |package: &str| {
        if workspace.members.len() == 1 {
            String::new()
        } else {
            format!("-p {package} ")
        }
    };
    let mut out = String::new();
    if services.is_empty() {
        out.push_str(
            "No binary here serves, so the Hotfile has checks only. Run `hot`: every save\n\
             reruns clippy, the tests and the build of what it affects.\n",
        );
    } else {
        out.push_str("Services (one port each):\n");
        for (judged, service) in choice.services.iter().zip(services) {
            let why = judged.note.as_deref().unwrap_or(&judged.verdict.rule);
            let _ = writeln!(
                out,
                "  {} on 127.0.0.1:{}: `{}` {why}",
                service.node, service.port, judged.bin.name
            );
        }
    }
    if !choice.others.is_empty() {
        out.push_str("\nNot services:\n");
        const SHOWN: usize = 8;
        for judged in choice.others.iter().take(SHOWN) {
            let why = judged.note.as_deref().unwrap_or(&judged.verdict.rule);
            let _ = writeln!(out, "  `{}`: {why}", judged.bin.name);
        }
        if choice.others.len() > SHOWN {
            let _ = writeln!(
                out,
                "  ... and {} more (each has a comment in the Hotfile)",
                choice.others.len() - SHOWN
            );
        }
        let example = choice
            .others
            .iter()
            .find(|j| j.verdict.serves)
            .unwrap_or(&choice.others[0]);
        let _ = writeln!(
            out,
            "\nTo serve others: `hot init --force --bin {}` (repeat `--bin` for several), or\n\
             `hot init` in a member's directory for that member's own Hotfile.",
            example.bin.name
        );
    }
    let mut step = 1;
    let mut any = false;
    for (judged, service) in choice.services.iter().zip(services) {
        if judged.verdict.takes_socket {
            continue;
        }
        if !any {
            out.push_str("\nNext steps:\n");
            any = true;
        }
        let main = relative(&judged.bin.main, base);
        let addr = format!("127.0.0.1:{}", service.port);
        let (crates, about, code) = match judged.verdict.framework {
            Some(framework) => {
                let (crates, code) = framework_lines(framework);
                (crates.to_owned(), format!("its framework is {framework}"), code)
            }
            None => (
                "listenfd tokio --features rt-multi-thread,net axum --no-default-features --features http1,tokio"
                    .to_owned(),
                "no web framework among its dependencies; a whole axum server".to_owned(),
                AXUM_MAIN.to_owned(),
            ),
        };
        let code = code.replace("{ADDR}", &addr).replace("{READY}", READY_LINE);
        let _ = writeln!(
            out,
            "\n{step}. {main} (service `{}`) binds its own port. These lines make it take hot's\n   \
             socket (fd 3) and print the line hot waits for ({about}):\n",
            service.node,
        );
        for line in code.lines() {
            let _ = writeln!(out, "{}", format!("     {line}").trim_end());
        }
        if !crates.is_empty() {
            let _ = writeln!(
                out,
                "\n   with: cargo add {}{crates}",
                select(&judged.package.name)
            );
        }
        if judged.verdict.ready.is_none() {
            let _ = writeln!(
                out,
                "\n   then replace `ready delay=\"1s\"` in the Hotfile with `ready log=\"^{READY_LINE}\"`."
            );
        }
        step += 1;
    }
    if let Some(first) = services.first() {
        let _ = write!(
            out,
            "\n{step}. Run `hot`, open http://127.0.0.1:{}, edit and save: clippy, the tests and the\n   \
             build run, then the new server takes over without a refused connection; a failing\n   \
             check leaves the old one serving. Pages that include\n   \
             <script src=\"http://127.0.0.1:{}/hot.js\"></script> reload by themselves.\n",
            first.port, first.reload
        );
    }
    out
}

/// Next steps for a project without Cargo.toml.
pub(super) fn generic(cargo_projects: &[PathBuf]) -> String {
    let mut out = "Next steps: put your command in the `check` task, uncomment the service if you have a\n\
                   server (it must take its listening socket from fd 3: LISTEN_FDS=1), and run `hot`.\n\
                   Recipes for Node, gunicorn and others: docs/recipes.md in hot's repository.\n"
        .to_owned();
    if let Some(first) = cargo_projects.first() {
        let _ = write!(
            out,
            "\nCargo projects below this directory: `hot init` in one writes its own Hotfile\n\
             (`cd {} && hot init`):\n",
            printable(&first.to_string_lossy())
        );
        for path in cargo_projects {
            let _ = writeln!(out, "  {}", printable(&path.to_string_lossy()));
        }
    }
    out
}
