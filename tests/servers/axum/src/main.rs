//! An axum server for hot's interop tests (`tests/interop/`): it takes hot's socket the way an
//! axum app does (`listenfd`, then `set_nonblocking`, then tokio), on tokio's current-thread
//! runtime or on the multi-thread one, and answers every request with
//!
//! ```text
//! pid=<pid> version=<content of $VERSION_FILE at start> server=axum-<runtime>
//! ```
//!
//! Usage: `interop-axum [--runtime current|multi]` (default `current`). Environment:
//! * `STARTUP_MS`: sleep this long before serving (a slow start), then print `ready`;
//! * `VERSION_FILE`: a file whose content is the version it reports (read once, at start).
//!
//! SIGTERM and SIGINT drain: no new connections, the ones in hand are answered, then exit
//! (see [`Draining`]).
//! Run without hot, it binds 127.0.0.1:3000 itself.

use std::net::TcpListener;
use std::time::Duration;

use axum::Router;
use axum::routing::get;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] | ["--runtime", "current"] => "current",
        ["--runtime", "multi"] => "multi",
        _ => {
            eprintln!("usage: interop-axum [--runtime current|multi]");
            std::process::exit(2);
        }
    };
    // listenfd edits the environment, so it runs before any runtime thread exists.
    let listener = match listenfd::ListenFd::from_env().take_tcp_listener(0)? {
        Some(listener) => listener,
        None => TcpListener::bind("127.0.0.1:3000")?,
    };
    let version = std::env::var("VERSION_FILE")
        .ok()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .unwrap_or_default();
    let answer = format!(
        "pid={} version={} server=axum-{runtime}\n",
        std::process::id(),
        version.trim()
    );
    let startup = std::env::var("STARTUP_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map(Duration::from_millis);
    let runtime = if runtime == "multi" {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    }
    .enable_all()
    .build()?;
    runtime.block_on(serve(listener, answer, startup))
}

async fn serve(
    listener: TcpListener,
    answer: String,
    startup: Option<Duration>,
) -> std::io::Result<()> {
    // The start-up (an app connecting to its database, say) comes before the socket is
    // made non-blocking and handed to tokio, as in most apps.
    if let Some(startup) = startup {
        tokio::time::sleep(startup).await;
    }
    listener.set_nonblocking(true)?;
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let listener = Draining {
        inner: tokio::net::TcpListener::from_std(listener)?,
        stopping,
    };
    let app = Router::new().route("/", get(move || async move { answer }));
    if startup.is_some() {
        println!("ready");
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            stopped().await;
            stop.send_replace(true);
            // Connections accepted just before the signal get to send their request.
            tokio::time::sleep(Duration::from_millis(100)).await;
        })
        .await
}

/// tokio's listener, except that it stops accepting at the stop signal, a moment before the
/// graceful shutdown begins. hyper closes a connection that has sent nothing yet when a
/// graceful shutdown begins (hyperium/hyper#3808), so with axum's plain
/// `with_graceful_shutdown`, a request accepted just before the signal is reset.
struct Draining {
    inner: tokio::net::TcpListener,
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl axum::serve::Listener for Draining {
    type Io = tokio::net::TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let stopping = async {
            // The guard `wait_for` returns is not Send: drop it before waiting forever.
            let _ = self.stopping.wait_for(|stop| *stop).await.map(|_| ());
        };
        tokio::select! {
            connection = axum::serve::Listener::accept(&mut self.inner) => connection,
            () = stopping => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Resolves at the first SIGTERM or SIGINT.
async fn stopped() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
