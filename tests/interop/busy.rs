//! Ten restarts (`HOT_INTEROP_BUSY_RESTARTS`) of each server under 8 concurrent clients, on a
//! machine loaded with two busy CPU hogs: nothing refused, nothing failed, whether the server
//! drains at its stop signal or dies at it.
//!
//! The defect these pin: every instance shared one listening socket, so the old instance kept
//! accepting connections until it stopped, and a server that dies at SIGTERM (Python's
//! `http.server`, Werkzeug, waitress, a Node server calling `process.exit()`) dropped every
//! connection it held then. Each instance now has a socket of its own, new connections are
//! steered to the serving one, and the old one is stopped once it has answered what it holds.

use std::time::Duration;

use crate::client::{Client, Summary};
use crate::fixtures::{Served, Server};
use crate::support::Hogs;

const CLIENTS: usize = 8;
const STARTUP: Duration = Duration::from_millis(800);

fn restarts() -> u32 {
    std::env::var("HOT_INTEROP_BUSY_RESTARTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10)
}

fn under_load(server: Server) {
    let Some(mut served) = Served::start(server, true, STARTUP) else {
        return;
    };
    let (project, hot, addr) = (&served.project, &mut served.hot, served.addr);
    hot.wait_event("service_ready", "serve");
    let _hogs = Hogs::start();
    let clients: Vec<Client> = (0..CLIENTS).map(|_| Client::start(addr)).collect();
    clients[0].wait_version("1");
    for version in 2..=restarts() + 1 {
        let version = version.to_string();
        project.write("version", &version);
        hot.wait_event("service_ready", "serve");
        for client in &clients {
            client.wait_version(&version);
        }
    }
    let records: Vec<_> = clients.into_iter().flat_map(Client::stop).collect();
    let summary = Summary::of(&records);
    eprintln!("{server:?}, {CLIENTS} clients, 2 CPU hogs: {summary}");
    served.assert_clean(&summary);
}

/// One test per server, named after what it pins.
macro_rules! busy {
    ($($server:ident: $name:ident;)*) => {$(
        #[test]
        fn $name() {
            under_load(Server::$server);
        }
    )*};
}

busy! {
    DyingPython: a_server_that_dies_at_sigterm_loses_no_request;
    DyingNode: a_node_server_that_exits_at_sigterm_loses_no_request;
    AxumCurrentThread: axum_current_thread_loses_no_request_under_load;
    AxumMultiThread: axum_multi_thread_loses_no_request_under_load;
    Asyncio: asyncio_loses_no_request_under_load;
    Blocking: blocking_python_loses_no_request_under_load;
    Gunicorn: gunicorn_loses_no_request_under_load;
    Node: node_loses_no_request_under_load;
    Werkzeug: werkzeug_loses_no_request_under_load;
    Waitress: waitress_loses_no_request_under_load;
    Uvicorn: uvicorn_loses_no_request_under_load;
    Hypercorn: hypercorn_loses_no_request_under_load;
    Fastify: fastify_loses_no_request_under_load;
}
