//! The event loop that connects the pure engine to the world: it feeds the engine file
//! changes, exits, readiness and signals, and carries out the actions the engine returns with
//! the supervisor, the sockets and the reporter. It owns no policy.
//!
//! The runtime is single-threaded and runs on the main thread. That is load-bearing: the
//! supervisor's monitors reap keepers on the thread that signals them, so a keeper seen
//! unreaped cannot be reaped (and its pid reused) before a signal reaches it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use crate::browser::Browser;
use crate::engine::{Action, Change, Engine, Event, Mode, Options, Report};
use crate::exit;
use crate::hotfile;
use crate::model::{Kind, NodeId, Project};
use crate::report::Reporter;
use crate::sockets::Sockets;
use crate::status::term::{self, Key};
use crate::status::{Control, StatusSink};
use crate::supervisor::Supervisor;
use crate::watch::{ChangeSet, Ignore, WatchConfig, Watcher};

/// What a command asks of the loop.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub mode: Mode,
    pub targets: Option<Vec<String>>,
    pub services: bool,
    pub jobs: usize,
    /// `Some` in watch mode.
    pub watch: Option<WatchPlan>,
    /// Print `hot ci`'s table at the end.
    pub summary: bool,
    /// Draw the live status view and read its keys, if the terminal allows (see
    /// `status::term::wanted`).
    pub status: bool,
    /// Whether hot's terminal output (stderr, where the view draws) is coloured: the user's
    /// `--color`, already decided.
    pub color: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct WatchPlan {
    pub debounce: Duration,
    pub poll: Option<Duration>,
}

/// Runs `plan` to completion and returns hot's exit status.
pub(crate) fn run(project: Arc<Project>, reporter: Reporter, plan: Plan) -> u8 {
    // A bug in hot must not leave its children running: kill them before the panic aborts.
    #[cfg(unix)]
    {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // The terminal first, so the panic message lands on a usable one.
            crate::status::term::restore_after_panic();
            crate::supervisor::kill_all_groups();
            previous(info);
        }));
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            reporter.error(&format!("cannot start the event loop: {error}"));
            return exit::FAILED;
        }
    };
    // The view replaces the plain lines: they scroll above its panel instead.
    let (reporter, status) = if plan.status && !reporter.is_json() && term::wanted() {
        let (sink, control) = StatusSink::new(plan.color, Box::new(std::io::stderr()));
        (
            Reporter::with_sinks(false, vec![Box::new(sink)]),
            Some(control),
        )
    } else {
        (reporter, None)
    };
    // From here the sinks write on a thread of their own: a reader of `--json` that stops
    // reading (or a terminal held by Ctrl-S) cannot stall the loop, signals included. The
    // closing summary and the sinks' finish wait for it at most the stop timeout.
    if let Err(error) = reporter.spawn_writer(stop_timeout(&project)) {
        reporter.error(&format!(
            "cannot start the output writer: {}",
            crate::shim::why(&error)
        ));
        return exit::FAILED;
    }
    let code = runtime.block_on(drive(project, reporter.clone(), status, plan));
    // Every path out of the loop, early errors included: a sink may hold lines back (the
    // view does until its next frame) and must give the terminal back.
    reporter.finish();
    code
}

async fn drive(
    project: Arc<Project>,
    reporter: Reporter,
    status: Option<Control>,
    plan: Plan,
) -> u8 {
    let options = Options {
        mode: plan.mode,
        targets: plan.targets.clone(),
        services: plan.services,
        jobs: plan.jobs,
    };
    // Heard from before anything is told, so a signal at any point after the first event
    // is acted on (not the default disposition's death).
    let mut signals = match Signals::new() {
        Ok(signals) => signals,
        Err(error) => {
            reporter.error(&format!("cannot listen for signals: {error}"));
            return exit::FAILED;
        }
    };
    let mut engine = Engine::new(project.clone(), options);
    // Before the first `scope` event: the browser sink learns from it what each service runs after.
    let mut browser = Browser::default();
    reporter.add_sink(browser.sink());
    reporter.scope(&project, engine.scope());
    let mut sockets = Sockets::new();
    if let Err(error) = bind(&mut sockets, &project, engine.scope(), &reporter) {
        reporter.diagnostic(&error);
        return exit::FAILED;
    }
    engine.set_early_start(sockets.steers());
    let (events, mut exits) = mpsc::unbounded_channel::<Event>();
    let mut supervisor = Supervisor::new(project.clone(), events, reporter.clone());
    // Watching, nodes start again on each change: a keeper waits ready for the next start.
    supervisor.keep_spare(plan.watch.is_some());
    let (changes_tx, mut changes) = mpsc::unbounded_channel::<ChangeSet>();
    // Held for the whole loop: dropping the watcher stops it.
    let watcher = match plan.watch {
        Some(watch) => {
            match start_watcher(watch_config(&project, watch), changes_tx, &mut signals).await {
                Ok(watcher) => {
                    reporter.watching(watcher.watched_dirs());
                    Some(watcher)
                }
                // A signal came during the walk: nothing has started, so nothing is left to stop.
                Err(Started::Stopped(code)) => return code,
                Err(Started::Failed(error)) => {
                    reporter.error(&error);
                    return exit::FAILED;
                }
            }
        }
        None => None,
    };

    browser.set_project(&project, engine.scope(), &reporter);
    // Keys are one more event source. The guard gives the terminal its modes back when the
    // loop ends; the panic hook does it if hot panics.
    let (keys_tx, mut keys) = mpsc::unbounded_channel::<Key>();
    let mut terminal = status.as_ref().and_then(|_| term::read_keys(keys_tx));
    if let Some(status) = &status {
        status.set_keys(terminal.is_some());
    }
    let mut suspend = Suspend::new(status.is_some());
    let mut frames = tokio::time::interval(crate::status::FRAME);
    frames.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    let mut actions = engine.start(Instant::now());
    // The engine's one timer (it has no clock): the earliest wake it asked for.
    let mut wake: Option<Instant> = None;
    let code = loop {
        if let Some(code) = carry_out(
            actions,
            &engine,
            &mut supervisor,
            &mut sockets,
            &reporter,
            &mut browser,
            &mut wake,
        ) {
            break code;
        }
        let alarm = tokio::time::Instant::from_std(wake.unwrap_or_else(Instant::now));
        actions = tokio::select! {
            Some(event) = exits.recv() => {
                let exited = match event {
                    Event::Exited { generation, .. } => Some(generation),
                    _ => None,
                };
                let mut actions = engine.handle(Instant::now(), event);
                if let Some(generation) = exited {
                    sockets.retire(generation);
                }
                if exited.is_some() {
                    actions.extend(renew_broken_sockets(&mut engine, &mut sockets, &reporter));
                }
                actions
            }
            _ = tokio::time::sleep_until(alarm), if wake.is_some() => {
                wake = None;
                engine.handle(Instant::now(), Event::Tick)
            }
            Some(change) = changes.recv() => {
                // Looked at (a `stat`) only when the change set names it: not on every save's
                // path to its command.
                let hotfile = hotfile_in(engine.project(), &change);
                let mut actions = Vec::new();
                if hotfile.is_some() {
                    match watched_hotfile(engine.project()) {
                        Some(_) => {
                            actions.extend(reload(&mut engine, &mut sockets, &mut supervisor, watcher.as_ref(), &reporter));
                            browser.set_project(engine.project(), engine.scope(), &reporter);
                        }
                        None => reporter.warning(&hotfile_not_a_file(&engine.project().hotfile)),
                    }
                }
                for notice in &change.notices {
                    reporter.watch_notice(notice);
                }
                if change.rescanned {
                    // The watcher does not say which: an overflow was told even for a `.gitignore` edit.
                    reporter.note(
                        "rescanned the project (an ignore file changed, or the file system's event \
                         queue overflowed)",
                    );
                }
                let changes = on_engine_clock(change)
                    .filter(|c| Some(&c.path) != hotfile.as_ref())
                    .collect();
                actions.extend(engine.handle(Instant::now(), Event::Changed(changes)));
                actions
            }
            code = signals.recv() => engine.handle(Instant::now(), Event::Shutdown { code }),
            Some(key) = keys.recv() => {
                let now = Instant::now();
                let event = status.as_ref().and_then(|s| s.key(key, now));
                // At once, before what the key sets off: the view answers the key itself.
                reporter.frame();
                match event {
                    Some(event) => engine.handle(now, event),
                    None => Vec::new(),
                }
            }
            () = suspend.recv() => {
                if let Some(status) = &status {
                    status.suspend();
                    // The panel must be gone before hot stops; a stalled terminal holds hot
                    // here no longer than the writer's patience.
                    reporter.frame_and_wait();
                    terminal = suspend.stop_and_continue(terminal.take());
                    status.resume(term::foreground(), terminal.is_some());
                    reporter.frame();
                }
                Vec::new()
            }
            // The view draws on the writer thread: the loop only asks.
            _ = frames.tick(), if status.is_some() => {
                reporter.frame();
                Vec::new()
            }
        };
    };
    if plan.summary {
        reporter.summary(engine.project(), &engine.standings());
    }
    drop(watcher);
    code
}

/// The longest stop timeout of any node: how long hot may wait for its output at exit.
fn stop_timeout(project: &Project) -> Duration {
    project
        .nodes
        .iter()
        .map(|n| n.stop.timeout)
        .max()
        .unwrap_or_else(|| crate::model::Stop::default().timeout)
}

/// Carries out the engine's actions; returns the exit status once the engine is done.
fn carry_out(
    actions: Vec<Action>,
    engine: &Engine,
    supervisor: &mut Supervisor,
    sockets: &mut Sockets,
    reporter: &Reporter,
    // The one sink the driver also acts on: it answers a service's socket.
    browser: &mut Browser,
    wake: &mut Option<Instant>,
) -> Option<u8> {
    let project = engine.project();
    // Reports just before a start are told right after it: the start is the command's
    // latency, and telling wakes the writer thread (and whoever reads hot's output), which on
    // a small machine takes the CPU the keeper needs. The order of the reports is kept, and any
    // other action tells them first.
    let mut held: Vec<Report> = Vec::new();
    let tell = |held: &mut Vec<Report>| {
        for report in held.drain(..) {
            reporter.report(project, &report);
        }
    };
    for action in actions {
        match &action {
            Action::Report(_) | Action::Start { .. } => {}
            _ => tell(&mut held),
        }
        match action {
            Action::Wake { at } => *wake = Some(wake.map_or(at, |w| w.min(at))),
            Action::Start { node, generation } => {
                let name = &project.node(node).name;
                let (fds, own) = sockets.for_instance(name, generation);
                supervisor.start(node, generation, &fds, own);
            }
            Action::Stop { node, generation } => supervisor.stop(node, generation),
            Action::Report(report) => held.push(report),
            Action::KillAll => supervisor.kill_all(),
            Action::Exit(code) => return Some(code),
            #[cfg(unix)]
            Action::Answer { node } => {
                let name = &project.node(node).name;
                if let Some((_, fd, _)) = sockets.for_node(name).first() {
                    browser.answer(name, *fd, reporter);
                }
            }
            #[cfg(not(unix))]
            Action::Answer { .. } => {}
            // Before the `Start` that follows: the instance gets every connection from now on.
            Action::Release { node } => browser.release(&project.node(node).name),
        }
    }
    // Steered before the last reports are told: a report such as "serving unchecked" is a
    // fact only once connections go to that instance.
    steer(engine, sockets);
    tell(&mut held);
    None
}

/// Steers each service's new connections to the instance the engine says they are for (where
/// the kernel steers, see `sockets`): after the actions, so a hand-off's stop, which waits for
/// the old instance to drain, finds it steered away already.
fn steer(engine: &Engine, sockets: &mut Sockets) {
    let project = engine.project();
    for node in project.ids() {
        let spec = project.node(node);
        if spec.kind == Kind::Service && !spec.sockets.is_empty() {
            sockets.steer(&spec.name, engine.serving(node));
        }
    }
}

/// After an instance exits: replaces the sockets it broke (see [`Sockets::renew_broken`]) and
/// tells the engine, which restarts the service on the fresh one.
fn renew_broken_sockets(
    engine: &mut Engine,
    sockets: &mut Sockets,
    reporter: &Reporter,
) -> Vec<Action> {
    let mut actions = Vec::new();
    for (node, socket, _addr, error) in sockets.renew_broken() {
        if let Some(error) = error {
            reporter.diagnostic(&error);
            continue;
        }
        if let Some(node) = engine.project().find(&node) {
            actions.extend(engine.handle(Instant::now(), Event::SocketRenewed { node, socket }));
        }
    }
    actions
}

/// Binds the sockets of the services the engine will run (not those outside its scope).
fn bind(
    sockets: &mut Sockets,
    project: &Project,
    scope: &std::collections::BTreeSet<NodeId>,
    reporter: &Reporter,
) -> Result<(), crate::sockets::SocketError> {
    let mut wanted = project.clone();
    for (id, node) in project.ids().zip(wanted.nodes.iter_mut()) {
        if !scope.contains(&id) {
            node.sockets.clear();
        }
    }
    sockets.bind_for(&wanted)?;
    if let Some(why) = sockets.unsteered() {
        // An early instance would take connections from the shared socket before its checks
        // passed: the engine falls back to the normal order (see `Engine::set_early_start`).
        let gated = wanted.nodes.iter().filter(|n| !n.gates.is_empty());
        let early = match gated.map(|n| n.name.as_str()).collect::<Vec<_>>() {
            names if names.is_empty() => String::new(),
            names => format!(
                "; and `gate` starts nothing early ({}): a new instance starts once its gates \
                 passed too, as if they were `after`",
                names.join(", ")
            ),
        };
        reporter.note(&format!(
            "instances of a service share one listening socket here ({why}): an old instance \
             may accept connections until it stops, so a server should drain at its stop \
             signal{early}"
        ));
    }
    for node in wanted.nodes.iter().filter(|n| n.kind == Kind::Service) {
        for (name, _fd, addr) in sockets.for_node(&node.name) {
            reporter.listening(&node.name, &name, addr);
        }
    }
    Ok(())
}

/// Reads the edited Hotfile; a broken edit is reported and the running graph stays.
fn reload(
    engine: &mut Engine,
    sockets: &mut Sockets,
    supervisor: &mut Supervisor,
    watcher: Option<&Watcher>,
    reporter: &Reporter,
) -> Vec<Action> {
    let path = engine.project().hotfile.clone();
    let project = match hotfile::load(&path) {
        Ok(project) => Arc::new(project),
        Err(diagnostics) => {
            reporter.diagnostic(&diagnostics);
            reporter.note("the Hotfile has errors; still running the previous version");
            return Vec::new();
        }
    };
    // The watcher watches the root it started with; paths under another one mean other files.
    if project.root != engine.project().root {
        reporter.warning(&format!(
            "the Hotfile's `root` is now {}; still running the previous version (restart hot \
             to watch the new root)",
            project.root.display()
        ));
        return Vec::new();
    }
    let scope = crate::engine::scope_of(&project, engine.options());
    if let Err(error) = bind(sockets, &project, &scope, reporter) {
        reporter.diagnostic(&error);
        reporter.note("still running the previous version of the Hotfile");
        return Vec::new();
    }
    engine.set_early_start(sockets.steers());
    supervisor.set_project(project.clone());
    if let Some(watcher) = watcher {
        watcher.reselect(
            relevance(&project),
            Some(Ignore::new(&project.common_ignores())),
        );
    }
    reporter.reloaded(&path);
    let actions = engine.reload(Instant::now(), project);
    reporter.scope(engine.project(), engine.scope());
    actions
}

/// The watcher's changes with their modification times moved to the engine's clock, so the
/// engine can tell a node's own writes from anyone else's.
fn on_engine_clock(change: ChangeSet) -> impl Iterator<Item = Change> {
    let (now, wall) = (Instant::now(), SystemTime::now());
    change
        .paths
        .into_iter()
        .zip(change.modified)
        .map(move |(path, modified)| Change {
            path,
            modified: modified
                .and_then(|mtime| wall.duration_since(mtime).ok())
                .and_then(|age| now.checked_sub(age)),
        })
}

fn watch_config(project: &Arc<Project>, plan: WatchPlan) -> WatchConfig {
    WatchConfig {
        root: project.root.clone(),
        debounce: plan.debounce,
        max_delay: Duration::from_secs(10).max(plan.debounce * 4),
        poll: plan.poll,
        relevant: relevance(project),
        always: watched_hotfile(project).into_iter().collect(),
        ignore: Ignore::new(&project.common_ignores()),
    }
}

/// Why the watcher did not start.
enum Started {
    /// A signal came during the start-up walk: the exit status it leads to.
    Stopped(u8),
    Failed(String),
}

/// Starts the watcher off the loop's thread, so a signal during the walk of a big tree is
/// acted on at once: it calls the walk off, and hot exits as soon as the walk has ended.
async fn start_watcher(
    config: WatchConfig,
    changes: mpsc::UnboundedSender<ChangeSet>,
    signals: &mut Signals,
) -> Result<Watcher, Started> {
    let cancel = Arc::new(AtomicBool::new(false));
    let called_off = cancel.clone();
    let mut starting = match crate::thread::spawn("hot-watch-start", move || {
        Watcher::start_until(config, changes, called_off)
    }) {
        Ok(starting) => starting,
        Err(error) => {
            return Err(Started::Failed(format!(
                "cannot start the file watcher: {}",
                crate::shim::why(&error)
            )));
        }
    };
    let started = tokio::select! {
        started = &mut starting => started,
        code = signals.recv() => {
            cancel.store(true, Ordering::Relaxed);
            // Within a directory's listing: the walk's threads end before hot does.
            let _ = starting.await;
            return Err(Started::Stopped(code));
        }
    };
    match started {
        Ok(Ok(watcher)) => Ok(watcher),
        Ok(Err(error)) => Err(Started::Failed(error.to_string())),
        Err(error) => Err(Started::Failed(format!(
            "the watcher failed to start: {error}"
        ))),
    }
}

/// Which paths any node watches: only those are hashed and reported.
fn relevance(project: &Arc<Project>) -> Arc<dyn Fn(&Path) -> bool + Send + Sync> {
    let project = project.clone();
    Arc::new(move |path: &Path| {
        let path = globset::Candidate::new(path);
        project
            .nodes
            .iter()
            .any(|n| n.inputs.matches_candidate(&path))
    })
}

/// The Hotfile's path (relative to the root) when `change` names it, whatever is there now.
fn hotfile_in(project: &Project, change: &ChangeSet) -> Option<PathBuf> {
    let rel = project.hotfile.strip_prefix(&project.root).ok()?;
    change
        .paths
        .iter()
        .any(|p| p == rel)
        .then(|| rel.to_path_buf())
}

/// What to say when the Hotfile's path no longer holds a file to reload: deleted, or a
/// directory (or anything else) in its place. Without it the old graph ran on in silence.
fn hotfile_not_a_file(path: &Path) -> String {
    let now = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "was deleted",
        Ok(m) if m.is_dir() => "is now a directory",
        _ => "is no longer a file hot can read",
    };
    format!(
        "the Hotfile {} {now}; still running the previous version (put the Hotfile back to \
         reload it, or stop hot)",
        path.display()
    )
}

/// The Hotfile's path in the project, when edits to it reload it (see
/// `watch::always_reported`).
fn watched_hotfile(project: &Project) -> Option<PathBuf> {
    crate::watch::always_reported(&project.root, &project.hotfile)
}

/// Ctrl-Z (SIGTSTP) while the status view is drawn: hot erases the panel and gives the
/// terminal back before it stops. Without the view, the default action stops hot as before.
struct Suspend {
    #[cfg(unix)]
    stream: Option<tokio::signal::unix::Signal>,
}

impl Suspend {
    fn new(view: bool) -> Suspend {
        Suspend {
            #[cfg(unix)]
            stream: view
                .then(|| {
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(
                        libc::SIGTSTP,
                    ))
                    .ok()
                })
                .flatten(),
        }
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(stream) = &mut self.stream {
            stream.recv().await;
            return;
        }
        std::future::pending::<()>().await;
    }

    /// Stops hot until it is continued; returns the terminal's guard if hot took it again.
    fn stop_and_continue(&self, guard: Option<term::Guard>) -> Option<term::Guard> {
        #[cfg(unix)]
        return term::stop_and_continue(guard);
        #[cfg(not(unix))]
        guard
    }
}

/// SIGINT, SIGTERM and SIGHUP, as the exit status each one leads to.
struct Signals {
    #[cfg(unix)]
    streams: [(tokio::signal::unix::Signal, u8); 3],
}

impl Signals {
    #[cfg(unix)]
    fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            streams: [
                (signal(SignalKind::interrupt())?, exit::SIGINT),
                (signal(SignalKind::terminate())?, exit::SIGTERM),
                (signal(SignalKind::hangup())?, exit::SIGHUP),
            ],
        })
    }

    #[cfg(unix)]
    async fn recv(&mut self) -> u8 {
        let [(int, int_code), (term, term_code), (hup, hup_code)] = &mut self.streams;
        tokio::select! {
            _ = int.recv() => *int_code,
            _ = term.recv() => *term_code,
            _ = hup.recv() => *hup_code,
        }
    }

    #[cfg(not(unix))]
    fn new() -> std::io::Result<Signals> {
        Ok(Signals {})
    }

    #[cfg(not(unix))]
    async fn recv(&mut self) -> u8 {
        let _ = tokio::signal::ctrl_c().await;
        exit::SIGINT
    }
}
