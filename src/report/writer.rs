//! Where the reporter's events wait for the sinks. Until [`Outlet::spawn_writer`] the sinks are
//! called in place, under the outlet's lock (one-shot commands, unit tests). From then on they
//! live on a writer thread of their own behind a bounded queue, so a sink that blocks (a reader
//! of `hot --json` that stopped reading, a terminal held by Ctrl-S) holds up that thread only,
//! never the event loop or the children's output forwarders.
//!
//! A full queue drops the event and counts it; the writer says how many were dropped, as an
//! [`EventKind::Dropped`], where the gap is (before the first event queued after it). A child's
//! output may fill only a quarter of the queue (and 4 MiB), so hot's own events (exits, readiness, errors)
//! still find room behind a flood. A forwarder first waits for that room
//! ([`Outlet::output_room`]) while the writer keeps taking events, so a child that writes
//! faster than the sinks (`seq` into `hot ci > ci.log`) is slowed to their pace, as a terminal
//! slows it, and loses nothing; only a writer that took nothing for [`STALLED`] (a reader that
//! stopped reading) makes it drop. The one event that must not be lost, `hot ci`'s summary,
//! waits for room, as the closing [`Outlet::finish`] waits for the writer, until a deadline.
//!
//! Frames ([`Outlet::frame`]) travel the same queue, in order with the events, so a sink that
//! batches its writes (the status view) writes only on the writer thread too. At most one
//! frame waits at a time: a writer that fell behind draws once, not once per missed tick.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::Clock;
use super::event::{Event, EventKind};
use super::sink::Sink;

/// Events the queue holds at most.
pub(crate) const CAPACITY: usize = 4096;
/// A child's output lines are queued only below this, so hot's own events keep room.
pub(crate) const OUTPUT_ROOM: usize = CAPACITY / 4;
/// And only while the queued lines hold less than this many bytes: a flood's pieces are up to
/// 64 KiB each, and the queue must not hold what the forwarders took care never to buffer.
pub(crate) const OUTPUT_BYTES: usize = 4 << 20;
/// A writer that took nothing from a non-empty queue for this long has a reader that stopped
/// reading: output no longer waits for room, it is dropped (a server must not block on its logs).
pub(crate) const STALLED: Duration = Duration::from_secs(1);

pub(super) struct Outlet {
    clock: Clock,
    state: Mutex<State>,
    /// The writer waits here for events.
    arrived: Condvar,
    /// Senders of a vital event wait here for room.
    room: Condvar,
    /// [`Outlet::finish`] waits here for the writer.
    done: Condvar,
    /// Forwarders waiting for output room wait here (they are tasks, not threads).
    output_room: Notify,
}

struct State {
    /// Whether a writer thread delivers the events; until then they are delivered in place.
    writer: bool,
    /// How long a vital event waits for room, and [`Outlet::finish`] for the writer.
    patience: Duration,
    /// The sinks, until the writer takes them.
    sinks: Vec<Box<dyn Sink>>,
    queue: VecDeque<Item>,
    /// Events dropped since the last one queued.
    dropped: u64,
    /// Bytes of output lines queued.
    output_bytes: usize,
    /// When the writer last took an item, or the queue last became non-empty.
    progress: Instant,
    closed: bool,
    finished: bool,
    /// A frame waits in the queue.
    frame_queued: bool,
    /// Frames asked for so far, and how many of those asks the sinks have drawn.
    frames_asked: u64,
    frames_drawn: u64,
}

enum Item {
    /// An event, how many were dropped just before it, and its output bytes.
    Event {
        dropped: u64,
        event: Event,
        bytes: usize,
    },
    Sink(Box<dyn Sink>),
    /// Time to draw ([`Sink::frame`]).
    Frame,
}

/// How hard an event tries to reach the sinks.
#[derive(Clone, Copy)]
pub(super) enum Urgency {
    /// A child's line: dropped first.
    Output,
    /// hot's own events: dropped only when the whole queue is full.
    Event,
    /// Waits for room, as long as the writer's patience, before it is dropped.
    Vital,
}

impl Outlet {
    pub(super) fn new(sinks: Vec<Box<dyn Sink>>, clock: Clock) -> Outlet {
        Outlet {
            clock,
            state: Mutex::new(State {
                writer: false,
                patience: Duration::ZERO,
                sinks,
                queue: VecDeque::new(),
                dropped: 0,
                output_bytes: 0,
                progress: Instant::now(),
                closed: false,
                finished: false,
                frame_queued: false,
                frames_asked: 0,
                frames_drawn: 0,
            }),
            arrived: Condvar::new(),
            room: Condvar::new(),
            done: Condvar::new(),
            output_room: Notify::new(),
        }
    }

    pub(super) fn clock(&self) -> &Clock {
        &self.clock
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in a sink must not silence every later line.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stamps `kind` with the time and delivers it, or queues it for the writer.
    pub(super) fn send(&self, kind: EventKind, urgency: Urgency) {
        let mut state = self.lock();
        // Stamped under the lock, so times never go backwards along the stream.
        let event = Event {
            kind,
            time: self.clock.now(),
        };
        if !state.writer {
            for sink in &mut state.sinks {
                sink.event(&event);
            }
            return;
        }
        let limit = match urgency {
            Urgency::Output => OUTPUT_ROOM,
            Urgency::Event => CAPACITY,
            Urgency::Vital => {
                let deadline = Instant::now() + state.patience;
                state = wait_until(&self.room, state, deadline, |s| {
                    s.queue.len() < CAPACITY || s.finished
                });
                CAPACITY
            }
        };
        let bytes = match &event.kind {
            EventKind::Output { line, .. } => line.len(),
            _ => 0,
        };
        let too_big = bytes > 0 && state.output_bytes + bytes > OUTPUT_BYTES;
        if state.queue.len() >= limit || too_big || state.finished {
            state.dropped += 1;
            return;
        }
        state.output_bytes += bytes;
        if state.queue.is_empty() {
            // The writer was idle, not stalled: its clock starts now.
            state.progress = Instant::now();
        }
        let dropped = std::mem::take(&mut state.dropped);
        state.queue.push_back(Item::Event {
            dropped,
            event,
            bytes,
        });
        self.arrived.notify_one();
    }

    /// Waits until `lines` output lines of `bytes` bytes in all would be queued (each capped at
    /// what the queue lets output hold), or the writer has stalled, or there is none.
    pub(super) async fn output_room(&self, lines: usize, bytes: usize) {
        loop {
            let notified = self.output_room.notified();
            tokio::pin!(notified);
            // Registered before the check, so a wake-up between the two is not lost.
            notified.as_mut().enable();
            let stalled_at = {
                let state = self.lock();
                let room = state.queue.len() + lines.min(OUTPUT_ROOM) <= OUTPUT_ROOM
                    && state.output_bytes + bytes.min(OUTPUT_BYTES) <= OUTPUT_BYTES;
                if room || !state.writer || state.closed || state.finished {
                    return;
                }
                state.progress + STALLED
            };
            let stalled_at = tokio::time::Instant::from_std(stalled_at);
            if tokio::time::timeout_at(stalled_at, notified).await.is_err() {
                return;
            }
        }
    }

    /// Adds a sink; it sees every event sent from now on.
    pub(super) fn add_sink(&self, sink: Box<dyn Sink>) {
        let mut state = self.lock();
        if state.writer {
            // Never dropped: a sink is not an event, and there are a handful.
            state.queue.push_back(Item::Sink(sink));
            self.arrived.notify_one();
        } else {
            state.sinks.push(sink);
        }
    }

    /// Asks every sink to draw, after the events sent so far; never blocks. Returns the ask's
    /// number, for [`Outlet::frame_and_wait`].
    pub(super) fn frame(&self) -> u64 {
        let mut state = self.lock();
        state.frames_asked += 1;
        let asked = state.frames_asked;
        if !state.writer {
            for sink in &mut state.sinks {
                sink.frame();
            }
            state.frames_drawn = asked;
        } else if !state.frame_queued && !state.closed {
            // Not counted against the capacity: at most one waits.
            state.frame_queued = true;
            state.queue.push_back(Item::Frame);
            self.arrived.notify_one();
        }
        asked
    }

    /// Asks for a frame and waits until the sinks have drawn it, at most the writer's
    /// patience (a terminal held by Ctrl-S cannot hold the caller longer). Returns whether
    /// it was drawn.
    pub(super) fn frame_and_wait(&self) -> bool {
        let asked = self.frame();
        let state = self.lock();
        let deadline = Instant::now() + state.patience;
        let state = wait_until(&self.done, state, deadline, |s| {
            s.frames_drawn >= asked || s.finished
        });
        state.frames_drawn >= asked
    }

    /// Moves the sinks to a writer thread of their own. A vital event waits for room, and
    /// the closing [`Outlet::finish`] for the writer, at most `patience`. Calling it again
    /// does nothing.
    pub(super) fn spawn_writer(self: &Arc<Self>, patience: Duration) -> std::io::Result<()> {
        let mut state = self.lock();
        state.patience = patience;
        if state.writer {
            return Ok(());
        }
        let outlet = self.clone();
        std::thread::Builder::new()
            .name("hot-writer".into())
            .spawn(move || outlet.write())?;
        // Taken by the thread under this lock, once it is released: no event slips between.
        state.writer = true;
        Ok(())
    }

    /// The writer thread: delivers queued events in order until the outlet is closed and
    /// empty, then lets every sink finish.
    fn write(&self) {
        let mut sinks = std::mem::take(&mut self.lock().sinks);
        loop {
            let (item, asked) = {
                let mut state = self.lock();
                while state.queue.is_empty() && !state.closed {
                    state = self.arrived.wait(state).unwrap_or_else(|e| e.into_inner());
                }
                let item = state.queue.pop_front();
                match &item {
                    Some(Item::Event { bytes, .. }) => state.output_bytes -= bytes,
                    Some(Item::Frame) => state.frame_queued = false,
                    _ => {}
                }
                state.progress = Instant::now();
                self.room.notify_all();
                self.output_room.notify_waiters();
                // Every ask made before this frame left the queue is answered by it.
                (item, state.frames_asked)
            };
            match item {
                Some(Item::Event { dropped, event, .. }) => {
                    if dropped > 0 {
                        self.say_dropped(&mut sinks, dropped);
                    }
                    for sink in &mut sinks {
                        sink.event(&event);
                    }
                }
                Some(Item::Sink(sink)) => sinks.push(sink),
                Some(Item::Frame) => {
                    for sink in &mut sinks {
                        sink.frame();
                    }
                    self.lock().frames_drawn = asked;
                    self.done.notify_all();
                }
                None => break,
            }
        }
        let dropped = std::mem::take(&mut self.lock().dropped);
        if dropped > 0 {
            self.say_dropped(&mut sinks, dropped);
        }
        for sink in &mut sinks {
            sink.finish();
        }
        self.lock().finished = true;
        self.done.notify_all();
        self.room.notify_all();
        self.output_room.notify_waiters();
    }

    fn say_dropped(&self, sinks: &mut [Box<dyn Sink>], events: u64) {
        let event = Event {
            kind: EventKind::Dropped {
                events,
                message: format!(
                    "{events} event{} dropped: hot's output was read too slowly",
                    if events == 1 { "" } else { "s" }
                ),
            },
            time: self.clock.now(),
        };
        for sink in sinks {
            sink.event(&event);
        }
    }

    /// Lets every sink flush and restore what it changed. With a writer, waits for it to
    /// deliver what is queued and finish, at most its patience (a stalled reader cannot hold
    /// hot longer; the process exit ends the writer).
    pub(super) fn finish(&self) {
        let mut state = self.lock();
        let deadline = Instant::now() + state.patience;
        if !state.writer {
            for sink in &mut state.sinks {
                sink.finish();
            }
            return;
        }
        state.closed = true;
        self.arrived.notify_one();
        self.output_room.notify_waiters();
        drop(wait_until(&self.done, state, deadline, |s| s.finished));
    }
}

/// Waits on `signal` until `ready` holds or `deadline` passes, whichever comes first.
fn wait_until<'a>(
    signal: &Condvar,
    mut state: MutexGuard<'a, State>,
    deadline: Instant,
    ready: impl Fn(&State) -> bool,
) -> MutexGuard<'a, State> {
    while !ready(&state) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        state = signal
            .wait_timeout(state, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    state
}
