//! The Unix implementation: posix_spawn of the keeper (which starts a process group of its
//! own), killpg, the monitor task.

use std::ffi::{OsStr, OsString};
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Child;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::clock::{FAR, later};
use super::ctx::{Ctx, Gate};
use super::ready;
use super::spare::{self, Refill};
use super::spawn_error::SpawnError;
use super::{Supervisor, plan};
use crate::engine::{Event, Exit, Generation};
use crate::model::{Command, Node, NodeId, Ready, Signal, Stop, Text};
use crate::report::{Reporter, Stream};
use crate::shim::protocol::{Launch, Order, Report};
use crate::sockets::RawFd;

/// The platform's number for a Hotfile stop signal.
pub fn signal_number(signal: Signal) -> i32 {
    match signal {
        Signal::Hup => libc::SIGHUP,
        Signal::Int => libc::SIGINT,
        Signal::Quit => libc::SIGQUIT,
        Signal::Kill => libc::SIGKILL,
        Signal::Usr1 => libc::SIGUSR1,
        Signal::Usr2 => libc::SIGUSR2,
        Signal::Term => libc::SIGTERM,
    }
}

/// Variables hot's own environment may carry (hot itself socket-activated, or run under
/// systemd) that must not reach a child that was not given sockets or a notify socket.
const INHERITED: [&str; 5] = [
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
    "LISTEN_FDS_FIRST_FD",
    "NOTIFY_SOCKET",
];

/// The command's whole environment, sorted by name: hot's own but [`INHERITED`], the node's
/// `env` over it, and its `NOTIFY_SOCKET`. Made at each start (a spare keeper is started with
/// none, so it never runs an old one); hot's own part is read once (see [`own_environment`]).
fn environment(node: &[(Text, Text)], notify: Option<&OsStr>) -> Vec<(OsString, OsString)> {
    let mut env = own_environment().to_vec();
    let mut set = |key: OsString, value: OsString| match env.binary_search_by(|(k, _)| k.cmp(&key))
    {
        Ok(at) => env[at].1 = value,
        Err(at) => env.insert(at, (key, value)),
    };
    for (key, value) in node {
        set(key.as_str().into(), value.as_str().into());
    }
    if let Some(path) = notify {
        set("NOTIFY_SOCKET".into(), path.to_owned());
    }
    env
}

/// hot's own environment but [`INHERITED`], sorted by name (the last of a name wins), read at
/// the first start: it does not change while hot runs (`cli` sets its one variable before
/// anything starts), so a start copies it rather than reading and sorting it again.
fn own_environment() -> &'static [(OsString, OsString)] {
    static OWN: std::sync::OnceLock<Vec<(OsString, OsString)>> = std::sync::OnceLock::new();
    OWN.get_or_init(|| {
        let env: std::collections::BTreeMap<OsString, OsString> = std::env::vars_os()
            .filter(|(key, _)| !INHERITED.iter().any(|i| key == i))
            .collect();
        env.into_iter().collect()
    })
}

/// How long output still buffered in the pipes may take to reach the reporter after the
/// group was killed; a process that escaped the group (setsid) may hold a pipe forever.
const DRAIN: Duration = Duration::from_millis(500);

/// How long a reader still paced by the reporter at [`DRAIN`] has to read the rest of its
/// pipe without waiting: a pipe holds 64 KiB, read in a moment.
const HURRY: Duration = Duration::from_millis(100);

/// Every process group hot has started and not yet reaped, for [`kill_all_groups`].
static GROUPS: std::sync::Mutex<std::collections::BTreeSet<libc::pid_t>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

pub(super) fn live_groups()
-> std::sync::MutexGuard<'static, std::collections::BTreeSet<libc::pid_t>> {
    GROUPS.lock().unwrap_or_else(|e| e.into_inner())
}

/// SIGKILLs every process group hot started that is still running. For the panic hook: a bug
/// in hot must not leave servers behind, and a panic aborts without running destructors.
pub fn kill_all_groups() {
    // try_lock: a panic while the lock is held must not deadlock the hook.
    let groups = match GROUPS.try_lock() {
        Ok(groups) => groups,
        Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return,
    };
    for pgid in groups.iter() {
        // SAFETY: killpg on groups hot created and has not reaped (so not reused); a keeper
        // that has no group yet (before its `setsid`) is killed alone.
        unsafe {
            if libc::killpg(*pgid, libc::SIGKILL) != 0 {
                libc::kill(*pgid, libc::SIGKILL);
            }
        }
    }
}

/// What the supervisor keeps of a running instance.
pub(super) struct Instance {
    pgid: libc::pid_t,
    /// The sockets it was given (hot's fd numbers).
    fds: Vec<RawFd>,
    name: String,
    stop: Stop,
    stopping: bool,
    control: mpsc::UnboundedSender<Control>,
    /// Set by the monitor in the poll that reaped the leader: from then on the group id may
    /// be reused, so nothing may signal it.
    gate: Arc<Gate>,
    /// True once the `Exited` event is sent.
    done: watch::Receiver<bool>,
    /// Its own listeners (sockets steered away from it at its stop), to drain first.
    drain: Option<Drain>,
}

impl Instance {
    fn is_done(&self) -> bool {
        *self.done.borrow()
    }
}

enum Control {
    /// Stop the instance: `signal` to the command alone (through its keeper), the rest of its
    /// group once it has exited, SIGKILL to whatever is left after `timeout`.
    Stop {
        signal: Signal,
        timeout: Duration,
        /// The instance's own listeners, to drain before the signal (see `drain`).
        drain: Option<Drain>,
    },
}

#[cfg(target_os = "linux")]
use super::drain::Drain;
/// Off Linux no socket is an instance's own: nothing to drain.
#[cfg(not(target_os = "linux"))]
pub(super) struct Drain;

/// How long after the stop timeout hot SIGKILLs the group itself, should the keeper (which
/// kills at the timeout) not have ended by then.
const BACKSTOP: Duration = Duration::from_millis(500);

impl Supervisor {
    /// Spawns an instance of `node`, passing `sockets` (from `Sockets::for_instance`). `own`:
    /// the sockets are this instance's alone (steered, see `sockets`), so its stop waits until
    /// it has answered what it holds (see `drain`).
    ///
    /// Must run inside a tokio `current_thread` runtime on the main thread (see the module
    /// doc). A failure to spawn is reported as `Event::Exited` with `Exit::SpawnFailed`.
    pub fn start(
        &mut self,
        node: NodeId,
        generation: Generation,
        sockets: &[(String, RawFd, SocketAddr)],
        own: bool,
    ) {
        self.instances.retain(|_, i| !i.is_done());
        if self.instances.contains_key(&generation) {
            self.reporter.note(&format!(
                "internal: instance {generation} of node {node} is already running; not starting it twice"
            ));
            return;
        }
        let Some(def) = self.project.nodes.get(node.0).cloned() else {
            self.spawn_failed(node, generation, SpawnError::NoNode(node));
            return;
        };
        match self.spawn(node, generation, &def, sockets, own) {
            Ok(instance) => {
                self.instances.insert(generation, instance);
            }
            Err(error) => self.spawn_failed(node, generation, error),
        }
    }

    fn spawn_failed(&self, node: NodeId, generation: Generation, error: SpawnError) {
        let why = error.to_string();
        let _ = self.events.send(Event::Exited {
            node,
            generation,
            exit: if error.refused() {
                Exit::Refused(why)
            } else {
                Exit::SpawnFailed(why)
            },
            last_lines: Vec::new(),
            ran: None,
        });
    }

    fn spawn(
        &self,
        node: NodeId,
        generation: Generation,
        def: &Node,
        sockets: &[(String, RawFd, SocketAddr)],
        own: bool,
    ) -> Result<Instance, SpawnError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(SpawnError::NoRuntime);
        }
        if !def.dir.is_dir() {
            return Err(SpawnError::NoDir(def.dir.to_path_buf()));
        }
        let fds: Vec<(String, RawFd)> = sockets.iter().map(|(n, fd, _)| (n.clone(), *fd)).collect();
        let raw: Vec<RawFd> = fds.iter().map(|(_, fd)| *fd).collect();
        // During a `ready` overlap the serving instance uses these very sockets (one open file
        // description): their mode is its, and must not change under it. A live instance's
        // number is still its socket's: `Sockets` keeps it open until the instance exited.
        let shared = self
            .instances
            .values()
            .any(|i| !i.is_done() && i.fds.iter().any(|fd| raw.contains(fd)));
        // Through the shim, a missing program only shows as exit 127; check it first so the
        // engine gets a SpawnFailed like for a direct spawn. The path found goes to the shim,
        // whose exec then needs no PATH search (a failed execve per PATH entry before it).
        // Taken from what the last start found when it can be (see `program`): searched
        // again by its monitor, off the path.
        let (exe, recheck) = match &def.run {
            Command::Argv(argv) if !argv.is_empty() => {
                let (found, recheck) = self.programs.find(OsStr::new(&argv[0]), &def.dir, &def.env);
                let found = found.map_err(SpawnError::Program)?;
                // A path is exec'd as written, as before (a script's `$0` stays `./x`).
                ((!argv[0].contains('/')).then_some(found), recheck)
            }
            Command::Argv(_) => (None, None),
            // A shell nobody can find is the shim's to report, as before.
            Command::Shell(_) => {
                let (found, recheck) = self.programs.find(OsStr::new("sh"), &def.dir, &def.env);
                (found.ok(), recheck)
            }
        };
        let exe = exe
            // A relative PATH entry would be read from the shim's directory (`dir`), not hot's.
            .filter(|exe| exe.is_absolute());
        // The keeper's standard input is its status socket (see `shim`); a spare already has
        // it, and is told its arguments without it.
        let plan = |status| {
            plan::launch(
                &def.run,
                exe.as_deref(),
                &self.shim_exe,
                &fds,
                shared,
                status,
            )
        };
        let launch = plan(Some(0));
        if launch.program.is_empty() {
            return Err(SpawnError::EmptyCommand);
        }

        let gate = Arc::new(Gate::new());
        let ctx = Ctx {
            node,
            generation,
            name: def.name.to_string(),
            events: self.events.clone(),
            reporter: self.reporter.clone(),
            hints: self.hints.clone(),
            service: def.kind == crate::model::Kind::Service,
            gate: gate.clone(),
            excerpt: Default::default(),
        };
        let notify = ready::notify(def.ready.as_ref(), node, generation)?;
        let env = environment(&def.env, notify.as_ref().map(|n| n.path.as_os_str()));

        // A spare keeper, if one waits, is handed the instance (see `spare`); else one is
        // spawned for it.
        let launched = self.spares.take().and_then(|spare| {
            let args = plan(None).args.into_iter().skip(1).collect();
            let order = Launch {
                dir: def.dir.as_os_str().to_owned(),
                env: env.clone(),
                args,
            };
            spare.launch(&order, &raw)
        });
        let (mut child, status) = match launched {
            Some(launched) => launched,
            None => self.spawn_keeper(&launch, &def.dir, &env, &raw)?,
        };
        let status = match status
            .set_nonblocking(true)
            .and_then(|()| tokio::net::UnixStream::from_std(status))
        {
            Ok(status) => status,
            Err(error) => {
                // A spare's group is already listed; the keeper ends its command on the end
                // of file of the status socket dropped here.
                if let Some(pid) = child.id() {
                    live_groups().remove(&(pid as libc::pid_t));
                }
                return Err(SpawnError::WatchKeeper(error));
            }
        };
        let Some(pid) = child.id() else {
            return Err(SpawnError::NoPid);
        };
        let pgid = pid as libc::pid_t;
        live_groups().insert(pgid);

        let log = ready::log(def.ready.as_ref());
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(tokio::spawn(forward(
                out,
                Stream::Stdout,
                ctx.clone(),
                log.clone(),
            )));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(tokio::spawn(forward(err, Stream::Stderr, ctx.clone(), log)));
        }
        if let Some(socket) = notify {
            socket.listen(ctx.clone());
        }

        let (control, control_rx) = mpsc::unbounded_channel();
        let (done_tx, done) = watch::channel(false);
        // Off Linux there is no /proc to tell whether it takes them (docs/json.md).
        #[cfg(target_os = "linux")]
        super::holds::watch(
            def.name.to_string(),
            pgid,
            sockets,
            gate.clone(),
            def.ready.is_some(),
            done.clone(),
            ctx.reporter.clone(),
        );
        let refill = Refill {
            spares: self.spares.clone(),
            exe: self.shim_exe.clone(),
            recheck,
        };
        tokio::spawn(monitor(
            child,
            status,
            pgid,
            def.ready.clone(),
            def.ready_timeout,
            ctx,
            control_rx,
            done_tx,
            readers,
            refill,
        ));
        Ok(Instance {
            drain: if own && !sockets.is_empty() {
                drain_of(sockets)
            } else {
                None
            },
            pgid,
            fds: fds.iter().map(|(_, fd)| *fd).collect(),
            name: def.name.to_string(),
            stop: def.stop,
            stopping: false,
            control,
            gate,
            done,
        })
    }

    /// Spawns a keeper for one instance (no spare was ready): the socket pair, the sockets
    /// written into it before the keeper runs, a posix_spawn.
    fn spawn_keeper(
        &self,
        launch: &plan::Launch,
        dir: &std::path::Path,
        env: &[(OsString, OsString)],
        sockets: &[RawFd],
    ) -> Result<spare::Launched, SpawnError> {
        // The keeper's line back to hot: hot's end closing is how the keeper learns that hot
        // is gone; the keeper tells of a stopped command over it.
        let (status, keeper_end) =
            std::os::unix::net::UnixStream::pair().map_err(SpawnError::SocketPair)?;
        let mut cmd = tokio::process::Command::new(&launch.program);
        cmd.args(&launch.args)
            .current_dir(dir)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(keeper_end)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // The sockets go to the keeper over its status socket, written before it runs (see
        // `shim`): no descriptor of hot's is ever inheritable, and with no code to run
        // between fork and exec std posix_spawns the keeper (no copy of hot's address space).
        if !sockets.is_empty() {
            crate::shim::pass::send(status.as_raw_fd(), sockets)
                .map_err(SpawnError::PassSockets)?;
        }
        let spawned = cmd.spawn();
        // Holds the keeper's end of the status socket (as its stdin): closed now, so that the
        // keeper's exit is the socket's end of file.
        drop(cmd);
        let child = spawned.map_err(|error| SpawnError::Shim {
            shim: self.shim_exe.clone(),
            program: launch.user_program.clone(),
            error,
        })?;
        Ok((child, status))
    }

    /// Stops that instance the way systemd's `KillMode=mixed` does: its stop signal to the
    /// command alone, the rest of its group once the command has exited, SIGKILL to what is
    /// left at the timeout. `Event::Exited` follows. A no-op if it is not running (or already
    /// stopping).
    pub fn stop(&mut self, _node: NodeId, generation: Generation) {
        self.stop_generation(generation);
    }

    fn stop_generation(&mut self, generation: Generation) {
        let Some(instance) = self.instances.get_mut(&generation) else {
            return;
        };
        if instance.stopping || instance.gate.reaped() {
            return;
        }
        instance.stopping = true;
        let _ = instance.control.send(Control::Stop {
            signal: instance.stop.signal,
            timeout: instance.stop.timeout,
            drain: instance.drain.take(),
        });
    }

    /// Number of live instances (started, `Exited` not yet sent).
    pub fn running(&self) -> usize {
        self.instances.values().filter(|i| !i.is_done()).count()
    }

    /// Stops every instance as [`Supervisor::stop`] does and resolves once each has exited.
    /// Cancel-safe: dropping the future leaves the instances known, so a
    /// [`Supervisor::kill_all`] afterwards still reaches them.
    pub async fn shutdown(&mut self) {
        // Nothing starts after this: no spare is kept for it.
        self.spares.set_on(false);
        let keys: Vec<_> = self.instances.keys().copied().collect();
        for generation in keys {
            self.stop_generation(generation);
        }
        for instance in self.instances.values_mut() {
            // An error means the monitor is gone, which also means it is over.
            let _ = instance.done.wait_for(|done| *done).await;
        }
        self.instances.retain(|_, i| !i.is_done());
    }

    /// SIGKILLs every group now (a second Ctrl-C). `Exited` events follow.
    pub fn kill_all(&mut self) {
        for instance in self.instances.values() {
            if !instance.gate.reaped() {
                signal_group(
                    instance.pgid,
                    libc::SIGKILL,
                    "SIGKILL",
                    &instance.name,
                    &self.reporter,
                    Leader::Unreaped,
                );
            }
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        // No process outlives hot, even on an early return or a panic unwinding.
        self.kill_all();
        self.spares.set_on(false);
    }
}

/// Whether the group's leader, the keeper (pid = pgid), is reaped yet.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Leader {
    /// Not reaped: its pid cannot have been reused.
    Unreaped,
    /// Reaped in this very poll: the group id cannot have been reused yet, its pid may be.
    Reaped,
}

/// killpg, reporting any failure but "no such group" (it is already gone). A keeper not yet
/// reaped whose group does not exist has not called `setsid` yet (it does that before it
/// starts anything, see `shim`): the signal goes to it alone, so a stop or a kill right
/// after the spawn is never lost.
fn signal_group(
    pgid: libc::pid_t,
    signal: i32,
    signal_name: &str,
    name: &str,
    reporter: &Reporter,
    leader: Leader,
) {
    // SAFETY: killpg takes plain integers.
    let mut sent = unsafe { libc::killpg(pgid, signal) } == 0;
    if !sent
        && leader == Leader::Unreaped
        && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    {
        // SAFETY: kill on our own unreaped child (its pid cannot have been reused).
        sent = unsafe { libc::kill(pgid, signal) } == 0;
    }
    if !sent {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ESRCH) {
            reporter.note(&format!(
                "cannot send {signal_name} to `{name}` (process group {pgid}): {e}; \
                 if it keeps running, stop it by hand with `kill -KILL -{pgid}`"
            ));
        }
    }
}

/// Owns the child until it exits; see the module doc.
#[allow(clippy::too_many_arguments)]
async fn monitor(
    mut child: Child,
    status: tokio::net::UnixStream,
    pgid: libc::pid_t,
    ready: Option<Ready>,
    ready_timeout: Duration,
    ctx: Ctx,
    mut control: mpsc::UnboundedReceiver<Control>,
    done: watch::Sender<bool>,
    readers: Vec<JoinHandle<()>>,
    mut refill: Refill,
) {
    let started = Instant::now();
    let delay = ready::delay(ready.as_ref(), started);
    let ready_deadline = ready::deadline(ready.as_ref(), started, ready_timeout);
    let mut kill_at: Option<Instant> = None;
    let mut killed = false;
    let far = later(started, FAR);
    // Held until the keeper is reaped: closing it tells the keeper that hot is gone.
    let (status, orders) = status.into_split();
    let mut keeper = BufReader::new(status).lines();
    let mut keeper_open = true;
    let mut ran = None;
    // A stop that waits for the instance to answer what it holds: until when, and its order.
    let mut draining: Option<(Drain, Instant, Signal, Instant)> = None;
    let mut quiet_once = false;
    let mut refill_at: Option<Instant> = None;
    let status = loop {
        tokio::select! {
            // Checked first, so a delay or timeout never fires for an instance already gone.
            biased;
            status = child.wait() => break status,
            line = keeper.next_line(), if keeper_open => match line {
                // A line that is no report (an older or newer keeper's) is ignored, as before.
                Ok(Some(line)) => match Report::parse(&line) {
                    Ok(Report::Started { pid }) => {
                        if ctx.service {
                            ctx.reporter.command_started(&ctx.name, ctx.generation, pid);
                        }
                        // Not at once: the spare's exec and start-up would take a CPU from
                        // the command's own (a shell, then its program). A command that ends
                        // sooner refills it on its exit.
                        refill_at = Some(later(Instant::now(), REFILL_AFTER));
                    }
                    Ok(Report::Ended { ran: d }) => ran = Some(d),
                    Ok(Report::Stopped { signal, pid }) => {
                        let _ = ctx.events.send(Event::Suspended {
                            node: ctx.node,
                            generation: ctx.generation,
                            signal,
                            pid,
                        });
                    }
                    Err(_) => {}
                },
                _ => keeper_open = false,
            },
            Some(Control::Stop { signal, timeout, drain }) = control.recv(), if kill_at.is_none() && !killed => {
                let now = Instant::now();
                let end = later(now, timeout);
                kill_at = Some(later(end, BACKSTOP));
                match drain {
                    // At most half the timeout: the server keeps the rest to stop in.
                    Some(drain) if signal != Signal::Kill => {
                        draining = Some((drain, later(now, timeout / 2), signal, end));
                    }
                    _ => order_stop(&orders, pgid, signal, timeout, &ctx),
                }
            }
            _ = tokio::time::sleep(DRAIN_POLL), if draining.is_some() => {
                if let Some((drain, until, signal, end)) = draining.take() {
                    let quiet = drain_quiet(&drain, pgid);
                    if (quiet && quiet_once) || Instant::now() >= until {
                        let left = end.saturating_duration_since(Instant::now());
                        order_stop(&orders, pgid, signal, left, &ctx);
                    } else {
                        draining = Some((drain, until, signal, end));
                    }
                    quiet_once = quiet;
                }
            }
            _ = tokio::time::sleep_until(refill_at.unwrap_or(far)), if refill_at.is_some() => {
                refill_at = None;
                refill.run();
                refill.recheck();
            }
            _ = tokio::time::sleep_until(kill_at.unwrap_or(far)), if kill_at.is_some() => {
                kill_at = None;
                killed = true;
                signal_group(pgid, libc::SIGKILL, "SIGKILL", &ctx.name, &ctx.reporter, Leader::Unreaped);
            }
            _ = tokio::time::sleep_until(delay.unwrap_or(far)), if delay.is_some() && ctx.gate.pending() => {
                ctx.ready();
            }
            _ = tokio::time::sleep_until(ready_deadline.unwrap_or(far)), if ready_deadline.is_some() && ctx.gate.pending() => {
                ctx.ready_timed_out();
            }
        }
    };
    // Same poll as the reap: the group id cannot have been reused yet.
    signal_group(
        pgid,
        libc::SIGKILL,
        "SIGKILL",
        &ctx.name,
        &ctx.reporter,
        Leader::Reaped,
    );
    live_groups().remove(&pgid);
    ctx.gate.reap();

    // Let the last lines reach the reporter before the engine hears of the exit.
    let drain_until = later(Instant::now(), DRAIN);
    // The keeper's `ended` line is written before it exits, so it is in the socket by now
    // (the reap is polled first); its end is closed, so this reads to end of file.
    while keeper_open
        && ran.is_none()
        && let Ok(Ok(Some(line))) = tokio::time::timeout_at(drain_until, keeper.next_line()).await
    {
        if let Ok(Report::Ended { ran: d }) = Report::parse(&line) {
            ran = Some(d);
        }
    }
    for mut reader in readers {
        if tokio::time::timeout_at(drain_until, &mut reader)
            .await
            .is_err()
        {
            // Still read at the pace of the reporter: what is left is read at once now (a
            // full queue drops it and says so) rather than cut off unsaid.
            ctx.gate.hurry();
            if tokio::time::timeout(HURRY, &mut reader).await.is_err() {
                reader.abort();
            }
        }
    }
    let exit = match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::Code(-1),
        },
        Err(e) => {
            ctx.reporter.note(&format!(
                "lost track of `{}` (process group {pgid}): waiting for it failed: {e}",
                ctx.name
            ));
            Exit::Code(-1)
        }
    };
    // A command that ended before its `started` line was read still leaves a spare behind it
    // (a no-op if there is one), ready before the engine hears of the exit.
    refill.run();
    let _ = ctx.events.send(Event::Exited {
        node: ctx.node,
        generation: ctx.generation,
        exit,
        last_lines: ctx.last_lines(),
        ran,
    });
    // After the exit is told: the next start may wait on it.
    refill.recheck();
    let _ = done.send(true);
}

/// How long after its command started a keeper's successor, the next spare, is spawned: past
/// the command's own start-up, which it would slow down on a small machine (BENCHMARKS.md).
const REFILL_AFTER: Duration = Duration::from_millis(10);

/// How often a draining instance is looked at.
const DRAIN_POLL: Duration = Duration::from_millis(5);

#[cfg(target_os = "linux")]
fn drain_quiet(drain: &Drain, keeper: libc::pid_t) -> bool {
    drain.quiet(keeper)
}

#[cfg(not(target_os = "linux"))]
fn drain_quiet(_: &Drain, _: libc::pid_t) -> bool {
    true
}

/// hot's duplicates of an instance's own listeners (they outlive a reload that drops hot's
/// copies), and their ports.
#[cfg(target_os = "linux")]
fn drain_of(sockets: &[(String, RawFd, SocketAddr)]) -> Option<Drain> {
    let mut listeners = Vec::new();
    for (_, fd, _) in sockets {
        // SAFETY: the fd is a live socket hot holds; borrowed only to duplicate it.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(*fd) };
        listeners.push(borrowed.try_clone_to_owned().ok()?);
    }
    Some(Drain {
        listeners,
        ports: sockets.iter().map(|(_, _, addr)| addr.port()).collect(),
    })
}

#[cfg(not(target_os = "linux"))]
fn drain_of(_: &[(String, RawFd, SocketAddr)]) -> Option<Drain> {
    None
}

/// Tells the keeper to stop its command (see `shim::keeper`): [`Order::Stop`]. A
/// SIGKILL, or a keeper that cannot be told, gets the signal on the whole group instead.
fn order_stop(
    orders: &tokio::net::unix::OwnedWriteHalf,
    pgid: libc::pid_t,
    signal: Signal,
    timeout: Duration,
    ctx: &Ctx,
) {
    let number = signal_number(signal);
    let line = Order::Stop {
        signal: number,
        timeout,
    }
    .encode();
    // A few bytes into an empty socket buffer: written whole or not at all.
    let told = signal != Signal::Kill && orders.try_write(line.as_bytes()).ok() == Some(line.len());
    if !told {
        signal_group(
            pgid,
            number,
            signal.name(),
            &ctx.name,
            &ctx.reporter,
            Leader::Unreaped,
        );
    }
    // A stopped group acts on the order, and on the signal, only once continued.
    signal_group(
        pgid,
        libc::SIGCONT,
        "SIGCONT",
        &ctx.name,
        &ctx.reporter,
        Leader::Unreaped,
    );
}

/// Forwards one pipe to the reporter in bounded pieces (see [`super::output`]), and
/// watches each line, whole or still waiting for its end, for the `ready log` match.
async fn forward(
    pipe: impl AsyncRead + Unpin,
    stream: Stream,
    ctx: Ctx,
    log: Option<regex::Regex>,
) {
    super::output::read(
        pipe,
        |piece| {
            ctx.reporter.output(&ctx.name, stream, piece.text);
            ctx.remember(piece.text);
            ctx.hints.on_output(&ctx.reporter, &ctx.name, piece.text);
            ready::log_line(&ctx, log.as_ref(), piece.line);
        },
        // A ready line that waits without its newline counts at once, not once it is shown.
        |line| {
            if log.is_some() && ctx.gate.pending() {
                ready::log_line(&ctx, log.as_ref(), &String::from_utf8_lossy(line));
            }
        },
        // Paced by the reporter, until the monitor says to hurry (see `HURRY`).
        |pieces, bytes| {
            let ctx = &ctx;
            async move {
                let room = ctx.reporter.output_room(pieces, bytes);
                ctx.gate.unless_hurried(room).await;
            }
        },
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_mapping() {
        for signal in Signal::ALL {
            let number = signal_number(signal);
            // SAFETY: strsignal returns a static string for a valid signal.
            let described = unsafe { std::ffi::CStr::from_ptr(libc::strsignal(number)) };
            assert!(!described.to_bytes().is_empty());
            assert!(number > 0);
        }
        assert_eq!(signal_number(Signal::Term), 15);
        assert_eq!(signal_number(Signal::Kill), 9);
        assert_eq!(signal_number(Signal::Int), 2);
        assert_eq!(signal_number(Signal::Hup), 1);
        let mut numbers: Vec<i32> = Signal::ALL.into_iter().map(signal_number).collect();
        numbers.sort();
        numbers.dedup();
        assert_eq!(numbers.len(), Signal::ALL.len(), "distinct");
    }

    /// The environment made from hot's own read once is the one made from scratch: hot's
    /// variables but the inherited activation ones, the node's over them, its notify socket
    /// last, sorted by name.
    #[test]
    fn a_command_environment_is_hot_own_under_the_node_and_its_notify_socket() {
        let some_own = own_environment()
            .first()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .unwrap_or_else(|| "HOT_TEST_UNSET".into());
        let node: Vec<(Text, Text)> = vec![
            (some_own.clone().into(), "from the node".into()),
            ("ZZ_HOT_NODE_ONLY".into(), "z".into()),
            ("LISTEN_PID".into(), "the node's own".into()),
        ];
        let env = environment(&node, Some(OsStr::new("/run/notify")));
        let mut want: std::collections::BTreeMap<OsString, OsString> = std::env::vars_os()
            .filter(|(key, _)| !INHERITED.iter().any(|i| key == i))
            .collect();
        want.extend(node.iter().map(|(k, v)| (k.into(), v.into())));
        want.insert("NOTIFY_SOCKET".into(), "/run/notify".into());
        let want: Vec<(OsString, OsString)> = want.into_iter().collect();
        assert_eq!(env, want);
        let get = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        assert_eq!(get(&some_own), Some("from the node".into()));
        assert_eq!(get("LISTEN_PID"), Some("the node's own".into()));
        assert!(
            environment(&[], None)
                .iter()
                .all(|(k, _)| k != "NOTIFY_SOCKET")
        );
    }

    /// A `stop timeout` or `ready delay` near `Duration::MAX` made `Instant + Duration` panic
    /// (hot aborted at start or at Ctrl-C).
    #[test]
    fn time_arithmetic_never_panics() {
        let now = Instant::now();
        assert!(later(now, Duration::MAX) > now);
        assert_eq!(later(now, DRAIN), now + DRAIN);
    }
}
