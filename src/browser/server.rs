//! The HTTP side, on axum: the browser endpoint (`/hot.js`, the `/events` stream, LiveReload's
//! `/livereload`) and the `503` page hot answers with while nothing serves.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::broadcast;

use super::page;
use super::state::View;

const HOT_JS: &str = include_str!("hot.js");
const LIVERELOAD_7: &str = "http://livereload.com/protocols/official-7";

/// What goes out to the pages of one service.
#[derive(Debug, Clone)]
pub(super) enum Out {
    View(View),
    /// A new instance serves; `css`: only these stylesheets changed.
    Reload {
        generation: u64,
        css: Vec<String>,
    },
}

/// Shared between the driver and the endpoint's tasks.
#[derive(Debug)]
pub(super) struct Shared {
    pub service: String,
    pub view: Mutex<View>,
    pub out: broadcast::Sender<Out>,
    /// The service's sockets: pages from these origins may read the stream.
    pub origins: Mutex<Vec<SocketAddr>>,
    /// Where hot.js is served, for the 503 page's script tag.
    pub endpoint: SocketAddr,
}

impl Shared {
    fn allowed(&self, origin: &str) -> bool {
        let Some(rest) = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
        else {
            return false;
        };
        let Some((host, port)) = rest.rsplit_once(':') else {
            return false;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let origins = self.origins.lock().expect("not poisoned");
        origins.iter().any(|addr| {
            port == addr.port().to_string()
                && (addr.ip().is_unspecified()
                    || host.parse::<std::net::IpAddr>().ok() == Some(addr.ip())
                    || (addr.ip().is_loopback() && host.eq_ignore_ascii_case("localhost")))
        })
    }
}

/// The browser endpoint's routes.
pub(super) fn endpoint(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/hot.js", get(script))
        .route("/events", get(events))
        .route("/livereload", get(livereload))
        .with_state(shared)
}

/// Every request on the service's socket, while nothing serves: the 503 page.
pub(super) fn unserved(shared: Arc<Shared>) -> Router {
    Router::new().fallback(unserved_page).with_state(shared)
}

/// How long a connection hot accepted for the 503 page may take to send its request: a
/// browser's preconnect may sit idle a while, and answering it late is right (the page turns
/// into the app by itself), but one that never speaks must not be held for good.
const REQUEST_WITHIN: Duration = Duration::from_secs(30);

/// Answers every connection `listener` accepts with one response from `router`, until the task
/// is aborted ([`Browser::release`](super::Browser::release)).
///
/// Not `axum::serve`: dropping its future tells its connection tasks to shut down gracefully,
/// and hyper then closes at once every connection that has not sent a request yet (accepted a
/// moment before the release, or a browser's preconnect), so that request went unanswered.
/// Here a connection is handed to its own task in the same poll that accepted it (no await in
/// between, so the abort cannot fall there), and that task, which nothing aborts, serves its
/// one request and closes it (keep-alive off: a kept connection would bring the next request
/// to hot once an instance serves).
pub(super) async fn answer(listener: TcpListener, router: Router) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of file descriptors and the like: the connection waits in the backlog.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(REQUEST_WITHIN)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        HOT_JS,
    )
        .into_response()
}

/// The stream: the current view at once, then every change. CORS: only the service's origins.
async fn events(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_owned);
    if let Some(origin) = &origin
        && !shared.allowed(origin)
    {
        return (
            StatusCode::FORBIDDEN,
            "hot: this origin is not the service's\n",
        )
            .into_response();
    }
    let first = shared.view.lock().expect("not poisoned").clone();
    let receiver = shared.out.subscribe();
    let stream = futures_util::stream::unfold(
        (Some(first), receiver),
        |(first, mut receiver)| async move {
            if let Some(view) = first {
                return Some((
                    Ok::<_, std::convert::Infallible>(sse(Out::View(view))),
                    (None, receiver),
                ));
            }
            loop {
                match receiver.recv().await {
                    Ok(out) => return Some((Ok(sse(out)), (None, receiver))),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    );
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response();
    if let Some(origin) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::VARY, HeaderValue::from_static("origin"));
    }
    response
}

fn sse(out: Out) -> Event {
    match out {
        Out::View(view) => Event::default()
            .event("state")
            .data(view.to_json().to_string()),
        Out::Reload { generation, css } => Event::default()
            .event("reload")
            .data(json!({"generation": generation, "css": css}).to_string()),
    }
}

/// LiveReload protocol 7: answer the client's `hello`, then send `reload` commands.
async fn livereload(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    // Pages of the service, the LiveReload extensions, and clients that send no origin.
    let extension =
        |o: &str| o.starts_with("chrome-extension://") || o.starts_with("moz-extension://");
    if let Some(origin) = origin
        && !shared.allowed(origin)
        && !extension(origin)
    {
        return (
            StatusCode::FORBIDDEN,
            "hot: this origin is not the service's\n",
        )
            .into_response();
    }
    upgrade.on_upgrade(move |socket| livereload_session(shared, socket))
}

async fn livereload_session(shared: Arc<Shared>, mut socket: WebSocket) {
    let mut receiver = shared.out.subscribe();
    loop {
        tokio::select! {
            message = socket.recv() => {
                let Some(Ok(message)) = message else { return };
                let Message::Text(text) = message else { continue };
                let Ok(command) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
                if command["command"] == "hello" {
                    let hello = json!({
                        "command": "hello",
                        "protocols": [LIVERELOAD_7],
                        "serverName": "hot",
                    });
                    if socket.send(Message::Text(hello.to_string().into())).await.is_err() {
                        return;
                    }
                }
            }
            out = receiver.recv() => {
                let css = match out {
                    Ok(Out::Reload { css, .. }) => css,
                    Ok(Out::View(_)) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                // livereload.js swaps a stylesheet named by `path` (liveCSS); any other path
                // reloads the page.
                let paths = if css.is_empty() { vec!["/".to_owned()] } else { css };
                for path in paths {
                    let reload = json!({
                        "command": "reload",
                        "path": path,
                        "liveCSS": true,
                        "liveImg": true,
                    });
                    if socket.send(Message::Text(reload.to_string().into())).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

async fn unserved_page(State(shared): State<Arc<Shared>>) -> Response {
    let view = shared.view.lock().expect("not poisoned").clone();
    let body = page::unserved(&shared.service, shared.endpoint, &view, super::now_ms());
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::RETRY_AFTER, "1"),
        ],
        body,
    )
        .into_response()
}
