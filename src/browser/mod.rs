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
use crate::report::event::NodeInfo;
use crate::report::{Event, EventKind, Reporter, Sink};
use server::{Out, Shared};
use state::{Change, Tracker};

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
pub(crate) struct Browser {
    endpoints: BTreeMap<String, Endpoint>,
    views: Views,
}

/// The browser as one more sink of hot's event stream: each event updates the views of the
/// services it concerns and goes out to their pages. What runs before each service it learns
/// from the `scope` events, like every sink; it never sees the project or its graph.
struct BrowserSink {
    views: Views,
    /// The nodes of the last `scope` event, for a view the driver opens after it.
    scope: Vec<NodeInfo>,
}

impl Sink for BrowserSink {
    fn event(&mut self, event: &Event) {
        let now = now_ms();
        if let EventKind::Scope { nodes } = &event.kind {
            self.scope.clone_from(nodes);
        }
        let mut views = self.views.lock().unwrap_or_else(|e| e.into_inner());
        for (tracker, shared) in views.values_mut() {
            if matches!(event.kind, EventKind::Scope { .. }) || !tracker.scoped() {
                tracker.scope(&self.scope);
            }
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
    /// The sink to add to the reporter, before its first `scope` event: it feeds every
    /// endpoint's pages.
    pub(crate) fn sink(&self) -> Box<dyn Sink> {
        Box::new(BrowserSink {
            views: self.views.clone(),
            scope: Vec::new(),
        })
    }

    /// Opens the endpoints of `project`'s services with `reload` (of those in `scope`), and
    /// closes those no longer wanted. Must run inside the runtime.
    pub(crate) fn set_project(
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
                Some((node.name.to_string(), (id, reload.addr)))
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
                if let Some((_, shared)) = views.get_mut(&name) {
                    // The view stays; the reload's `scope` event tells it what runs before.
                    *shared.origins.lock().expect("not poisoned") = origins;
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
                views.insert(name.clone(), (Tracker::new(&name), shared.clone()));
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
    pub(crate) fn answer(&mut self, service: &str, fd: std::os::fd::RawFd, reporter: &Reporter) {
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
    pub(crate) fn release(&mut self, service: &str) {
        if let Some(answering) = self
            .endpoints
            .get_mut(service)
            .and_then(|e| e.answering.take())
        {
            answering.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::event::Kind;

    fn node(name: &str, kind: Kind, after: &[&str]) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            kind,
            after: after.iter().map(|a| a.to_string()).collect(),
            sockets: Vec::new(),
            locks: Vec::new(),
        }
    }

    fn event(kind: EventKind) -> Event {
        Event {
            kind,
            time: jiff::Timestamp::UNIX_EPOCH.to_zoned_datetime(jiff::tz::TimeZone::UTC),
        }
    }

    fn failed(node: &str) -> EventKind {
        EventKind::NodeFinished {
            node: node.into(),
            generation: 1,
            kind: Kind::Task,
            ok: false,
            code: Some(1),
            signal: None,
            error: None,
            duration_ms: 1.0,
            last_lines: vec!["broken".into()],
        }
    }

    fn view(views: &Views, name: &str) {
        let shared = Arc::new(Shared {
            service: name.into(),
            view: Mutex::new(Default::default()),
            out: broadcast::channel(8).0,
            origins: Mutex::new(Vec::new()),
            endpoint: "127.0.0.1:1".parse().unwrap(),
        });
        views
            .lock()
            .unwrap()
            .insert(name.into(), (state::Tracker::new(name), shared));
    }

    fn stale_node(views: &Views, name: &str) -> Option<String> {
        let views = views.lock().unwrap();
        let stale = views[name].0.view.stale.clone();
        stale.map(|s| s.node)
    }

    /// What runs before a service comes from the `scope` events alone, also for a view the
    /// driver opens after the sink saw the event, and a reload's `scope` replaces it.
    #[test]
    fn the_browser_sink_learns_what_runs_before_a_service_from_scope_events() {
        let browser = Browser::default();
        let mut sink = browser.sink();
        sink.event(&event(EventKind::Scope {
            nodes: vec![
                node("lint", Kind::Task, &[]),
                node("test", Kind::Task, &["lint"]),
                node("docs", Kind::Task, &[]),
                node("web", Kind::Service, &["test"]),
            ],
        }));
        // Opened after the `scope` event, as the driver does.
        view(&browser.views, "web");
        sink.event(&event(failed("docs")));
        assert_eq!(
            stale_node(&browser.views, "web"),
            None,
            "docs is not upstream"
        );
        sink.event(&event(failed("lint")));
        assert_eq!(stale_node(&browser.views, "web").as_deref(), Some("lint"));
        // A reload: web now runs after docs only.
        sink.event(&event(EventKind::Scope {
            nodes: vec![
                node("lint", Kind::Task, &[]),
                node("docs", Kind::Task, &[]),
                node("web", Kind::Service, &["docs"]),
            ],
        }));
        sink.event(&event(failed("docs")));
        assert_eq!(stale_node(&browser.views, "web").as_deref(), Some("docs"));
    }
}
