//! A hello-world axum server that takes its listening socket from `hot`.
//!
//! Run it under hot from the repository root: `hot -f examples/axum-hello/Hotfile`. hot binds
//! 127.0.0.1:3000 itself and passes the socket as fd 3 (the systemd socket-activation protocol,
//! read here by the `listenfd` crate), so while this server restarts, requests wait in the
//! socket's backlog instead of being refused. Run on its own, it binds the port itself.

use std::net::TcpListener;

use axum::Router;
use axum::response::Html;
use axum::routing::get;

/// Edit me while `hot` runs: the page reloads by itself once the new server is ready.
const GREETING: &str = "Hello from hot!";

/// hot's browser script (the Hotfile's `reload "127.0.0.1:35729"`), in debug builds only: a
/// release build never talks to hot.
const HOT_SCRIPT: &str = if cfg!(debug_assertions) {
    "<script src=\"http://127.0.0.1:35729/hot.js\"></script>"
} else {
    ""
};

fn app() -> Router {
    Router::new().route(
        "/",
        get(|| async {
            Html(format!(
                "<!doctype html>\n<title>axum-hello</title>\n<h1>{GREETING}</h1>\n{HOT_SCRIPT}\n"
            ))
        }),
    )
}

/// The socket hot passes, or one bound here when run without hot.
fn listener() -> std::io::Result<TcpListener> {
    // listenfd edits the environment, so it must run before the runtime starts its threads.
    let listener = match listenfd::ListenFd::from_env().take_tcp_listener(0)? {
        Some(listener) => listener,
        None => TcpListener::bind("127.0.0.1:3000")?,
    };
    // tokio needs a non-blocking socket. hot hands it over blocking when no other instance
    // holds it, and as the serving instance left it during an overlap: set it either way.
    listener.set_nonblocking(true)?;
    Ok(listener)
}

async fn serve(listener: TcpListener) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    // hot waits for this line (`ready log=...`) before it stops the previous instance.
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app())
        .with_graceful_shutdown(stopped())
        .await
}

/// Ctrl-C by hand, or the SIGTERM hot's `stop` sends: either way, finish what is in hand.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

fn main() -> std::io::Result<()> {
    let listener = listener()?;
    tokio::runtime::Runtime::new()?.block_on(serve(listener))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    #[test]
    fn answers_with_the_greeting() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.spawn(serve(listener));
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(
            response.contains(&format!("<h1>{GREETING}</h1>")),
            "{response}"
        );
        assert_eq!(
            response.contains("/hot.js"),
            cfg!(debug_assertions),
            "{response}"
        );
    }
}
