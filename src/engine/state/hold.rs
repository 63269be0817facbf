//! Changes a task's own run seems to be making, held until that run ends (briefly).
//!
//! The watcher reports a single save within about a millisecond of its close, so a task that
//! rewrites its own inputs (`date > src/generated.rs`) is usually still running when its write
//! arrives. Such a change would restart it at once, and a change that restarts a run is never
//! counted by loop detection (only writes by runs that ended on their own are; see
//! `loop_check`), so the loop would spin. A batch whose every change was written during a
//! current run of a task it triggers is therefore held until those runs end, at most
//! [`HOLD`]: a quick run ends first, and its write is judged after it as one by a finished
//! run. A save during a longer run (the user editing while a build runs) still restarts it,
//! [`HOLD`] late.

use std::time::{Duration, Instant};

use super::{Action, Change, Engine, MTIME_SLACK};
use crate::model::Kind;

/// How long a change that looks like a running task's own write waits for that run to end.
/// Long enough for a quick command to end on a loaded machine (a `sh -c` line takes
/// 10-35 ms on a busy 2-core VM); short beside the build a save during a run restarts.
pub(super) const HOLD: Duration = Duration::from_millis(50);

impl Engine {
    /// True when every change in `changes` was written during a current run of a task whose
    /// inputs it matches (so it may be that run's own write).
    fn written_by_running_tasks(&self, changes: &[Change]) -> bool {
        !changes.is_empty()
            && changes.iter().all(|c| {
                let Some(modified) = c.modified else {
                    return false;
                };
                self.project.ids().any(|n| {
                    let state = &self.nodes[n.0];
                    self.project.node(n).kind == Kind::Task
                        && self.project.node(n).inputs.matches(&c.path)
                        && state.current.is_some_and(|i| {
                            // An mtime near the end of the clock is after any start.
                            modified
                                .checked_add(MTIME_SLACK)
                                .is_none_or(|m| m >= i.started)
                        })
                })
            })
    }

    /// Takes a change set from the watcher: held (see the module) or handled now.
    pub(super) fn changed_at(
        &mut self,
        now: Instant,
        changes: Vec<Change>,
        actions: &mut Vec<Action>,
    ) {
        if self.held.is_empty() && !self.written_by_running_tasks(&changes) {
            self.changed(changes, actions);
            return;
        }
        // Once anything is held, later changes queue behind it, in order.
        self.held.extend(changes);
        if self.held_until.is_none() {
            let at = now.checked_add(HOLD).unwrap_or(now);
            self.held_until = Some(at);
            actions.push(Action::Wake { at });
        }
        self.release_held(now, actions);
    }

    /// Hands the held changes on once the runs that may have written them ended, or the
    /// hold is over. Called after every event.
    pub(super) fn release_held(&mut self, now: Instant, actions: &mut Vec<Action>) {
        if self.held.is_empty() {
            return;
        }
        let over = self.held_until.is_none_or(|at| now >= at);
        if !over && self.written_by_running_tasks(&self.held) {
            return;
        }
        self.held_until = None;
        let changes = std::mem::take(&mut self.held);
        self.changed(changes, actions);
    }
}
