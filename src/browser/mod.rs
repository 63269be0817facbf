//! The browser knows: for every service with `reload "ADDR"`, hot serves `/hot.js`, a stream of
//! the service's state (server-sent events) and LiveReload 7 at `ADDR`; and while the engine
//! says nothing serves ([`Action::Answer`](crate::engine::Action::Answer)) it answers the
//! service's first socket itself with a `503` page.
//!
//! Everything here runs as tasks on the driver's current-thread runtime; nothing forks. The
//! app's own traffic never passes through hot while an instance serves.

mod page;
mod server;
mod state;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::model::{Kind, NodeId, Project};
use crate::report::{Event, Reporter, Sink};
use server::{Out, Shared};
use state::{Change, Tracker};

pub use page::escape;

/// Wall-clock milliseconds, for the times pages show.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

struct Endpoint {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
    /// The 503 server on the service's socket, while hot answers it.
    answering: Option<JoinHandle<()>>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(answering) = self.answering.take() {
            answering.abort();
        }
    }
}

/// Each service's view and where it goes, keyed by service name: shared by the driver (which
/// opens and closes endpoints) and the sink (which feeds them events).
type Views = Arc<Mutex<BTreeMap<String, (Tracker, Arc<Shared>)>>>;

/// Every service's browser endpoint, keyed by service name.
#[derive(Default)]
pub struct Browser {
    endpoints: BTreeMap<String, Endpoint>,
    views: Views,
}

/// The browser as one more sink of hot's event stream: each event updates the views of the
/// services it concerns and goes out to their pages.
struct BrowserSink(Views);

impl Sink for BrowserSink {
    fn event(&mut self, event: &Event) {
        let now = now_ms();
        let mut views = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for (tracker, shared) in views.values_mut() {
            let Some(change) = tracker.event(&event.kind, now) else {
                continue;
            };
            let view = tracker.view.clone();
            *shared.view.lock().expect("not poisoned") = view.clone();
            if let Change::Reload { css } = change {
                let css = css.iter().map(|p| p.display().to_string()).collect();
                let _ = shared.out.send(Out::Reload {
                    generation: view.generation,
                    css,
                });
            }
            let _ = shared.out.send(Out::View(view));
        }
    }
}

impl Browser {
    /// The sink to add to the reporter: it feeds every endpoint's pages.
    pub fn sink(&self) -> Box<dyn Sink> {
        Box::new(BrowserSink(self.views.clone()))
    }

    /// Opens the endpoints of `project`'s services with `reload` (of those in `scope`), and
    /// closes those no longer wanted. Must run inside the runtime.
    pub fn set_project(
        &mut self,
        project: &Project,
        scope: &std::collections::BTreeSet<NodeId>,
        reporter: &Reporter,
    ) {
        let wanted: BTreeMap<String, (NodeId, SocketAddr)> = project
            .ids()
            .filter(|id| scope.contains(id))
            .filter_map(|id| {
                let node = project.node(id);
                let reload = node.reload.filter(|_| node.kind == Kind::Service)?;
                Some((node.name.clone(), (id, reload.addr)))
            })
            .collect();
        self.endpoints
            .retain(|name, e| wanted.get(name).is_some_and(|(_, addr)| *addr == e.addr));
        // Messages wait until the views are unlocked: the reporter calls the sink, which locks
        // them too.
        let mut said = Vec::new();
        {
            let mut views = self.views.lock().unwrap_or_else(|e| e.into_inner());
            views.retain(|name, _| self.endpoints.contains_key(name));
            for (name, (id, addr)) in wanted {
                let origins: Vec<SocketAddr> =
                    project.node(id).sockets.iter().map(|s| s.addr).collect();
                if let Some((tracker, shared)) = views.get_mut(&name) {
                    *shared.origins.lock().expect("not poisoned") = origins;
                    let view = tracker.view.clone();
                    *tracker = Tracker::new(project, id);
                    tracker.view = view;
                    continue;
                }
                let listener = match std::net::TcpListener::bind(addr)
                    .and_then(|l| l.set_nonblocking(true).map(|()| l))
                    .and_then(tokio::net::TcpListener::from_std)
                {
                    Ok(listener) => listener,
                    Err(error) => {
                        said.push(Err(format!(
                            "cannot serve the browser endpoint of `{name}` at {addr}: {error}; \
                             free the port or change `reload` in the Hotfile"
                        )));
                        continue;
                    }
                };
                let shared = Arc::new(Shared {
                    service: name.clone(),
                    view: Mutex::new(Default::default()),
                    out: broadcast::channel(64).0,
                    origins: Mutex::new(origins),
                    endpoint: addr,
                });
                let router = server::endpoint(shared.clone());
                let server = tokio::spawn(async move {
                    let _ = axum::serve(listener, router).await;
                });
                said.push(Ok(format!(
                    "browser: `{name}` pages reload with <script src=\"http://{addr}/hot.js\"></script>"
                )));
                views.insert(name.clone(), (Tracker::new(project, id), shared.clone()));
                self.endpoints.insert(
                    name,
                    Endpoint {
                        addr,
                        shared,
                        server,
                        answering: None,
                    },
                );
            }
        }
        for message in said {
            match message {
                Ok(note) => reporter.note(&note),
                Err(error) => reporter.error(&error),
            }
        }
    }

    /// Answers `service`'s socket `fd` with the 503 page until [`Browser::release`].
    #[cfg(unix)]
    pub fn answer(&mut self, service: &str, fd: std::os::fd::RawFd, reporter: &Reporter) {
        use std::os::fd::{BorrowedFd, OwnedFd};
        let Some(endpoint) = self.endpoints.get_mut(service) else {
            return;
        };
        if let Some(old) = endpoint.answering.take() {
            old.abort();
        }
        // A duplicate shares the socket (and its O_NONBLOCK flag: the keeper clears it again
        // before an instance starts, and hot has stopped accepting by then).
        // SAFETY: the fd is held by `Sockets` for hot's whole life.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let listener = borrowed
            .try_clone_to_owned()
            .map(OwnedFd::into)
            .and_then(|l: std::net::TcpListener| l.set_nonblocking(true).map(|()| l))
            .and_then(tokio::net::TcpListener::from_std);
        let listener = match listener {
            Ok(listener) => listener,
            Err(error) => {
                reporter.error(&format!("cannot answer the socket of `{service}`: {error}"));
                return;
            }
        };
        let router = server::unserved(endpoint.shared.clone());
        endpoint.answering = Some(tokio::spawn(server::answer(listener, router)));
    }

    /// Stops answering `service`'s socket at once: the aborted accept loop is never polled
    /// again (the runtime is single-threaded and busy here), so every connection from now on
    /// waits in the backlog for the instance about to start. Each connection hot already
    /// accepted lives on its own task, which the abort leaves alone: it gets its page, then
    /// hot closes it (see [`server::answer`]).
    pub fn release(&mut self, service: &str) {
        if let Some(answering) = self
            .endpoints
            .get_mut(service)
            .and_then(|e| e.answering.take())
        {
            answering.abort();
        }
    }
}
