//! Scripted scenarios: a tiny event language in, a transcript of actions out.
//!
//! Script lines: `start`, `change PATH[@MS]...` (modified MS into the script), `exit NAME#GEN CODE`, `kill NAME#GEN SIGNAL`,
//! `ready NAME#GEN`, `timeout NAME#GEN`, `wait MS`, `tick` (the driver's timer fired),
//! `rerun all|failed`, `shutdown CODE`, `reload` (with the project given to [`Scenario::reloading`]),
//! `stopped NAME#GEN SIGNAL`, `serving NAME` (answers with the instance new connections go to,
//! `serving NAME#GEN` or `serving none`). Each line is echoed, followed by the actions it caused.
//!
//! A test declares its project, feeds the script and states the exact transcript, in one
//! [`Scenario`]:
//!
//! ```text
//! Scenario::new(WEB).serving().expect("
//!     exit serve#4 101
//!       finished serve Code(101) in 0ms (last line of #4)
//!       down serve: restart in 500ms
//!       wake at 500ms
//!     ");
//! ```
//!
//! The topic files below hold the scenarios; this file holds only the language.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::model::Restart;
use crate::model::testing::project;

type Nodes<'a> = &'a [(&'a str, &'a [&'a str], &'a [&'a str])];

const WEB: Nodes = &[
    ("clippy", &["src/**/*.rs", "Cargo.toml"], &[]),
    ("test", &["src/**/*.rs", "tests/**/*.rs"], &["clippy"]),
    ("build", &["src/**/*.rs", "Cargo.toml"], &[]),
    ("serve", &["templates/**"], &["test", "build"]),
];

fn watch() -> Options {
    Options {
        mode: Mode::Watch,
        targets: None,
        services: true,
        jobs: 8,
    }
}

fn run(engine: &mut Engine, script: &str, mut reload: Option<Project>) -> String {
    let t0 = Instant::now();
    let mut now = t0;
    let mut out = String::new();
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let generation = |word: &str| -> (NodeId, Generation) {
            let (name, generation) = word.split_once('#').expect("NAME#GEN");
            let node = engine.project().find(name).expect("known node");
            let generation = generation.parse().expect("a number");
            if let Some(owner) = engine.owner(generation) {
                assert_eq!(owner, node, "{word} belongs to another node");
            }
            (node, generation)
        };
        let actions = match words[0] {
            "start" => engine.start(now),
            "wait" => {
                now += Duration::from_millis(words[1].parse().expect("ms"));
                Vec::new()
            }
            // `change PATH@MS`: PATH was modified at MS into the script (default: unknown).
            "change" => {
                let changes = words[1..]
                    .iter()
                    .map(|word| match word.split_once('@') {
                        Some((path, ms)) => Change {
                            path: PathBuf::from(path),
                            modified: Some(t0 + Duration::from_millis(ms.parse().expect("ms"))),
                        },
                        None => Change::path(*word),
                    })
                    .collect();
                engine.handle(now, Event::Changed(changes))
            }
            // `refused` and `unstartable`: a start that never happened, refused for now or
            // impossible (no last lines).
            "exit" | "kill" | "refused" | "unstartable" => {
                let (node, generation) = generation(words[1]);
                let why = || format!("{} #{generation}", words[0]);
                let (exit, last_lines) = match words[0] {
                    "refused" => (Exit::Refused(why()), Vec::new()),
                    "unstartable" => (Exit::SpawnFailed(why()), Vec::new()),
                    word => {
                        let value = words[2].parse().expect("a number");
                        let exit = if word == "exit" {
                            Exit::Code(value)
                        } else {
                            Exit::Signal(value)
                        };
                        (exit, vec![format!("last line of #{generation}")])
                    }
                };
                engine.handle(
                    now,
                    Event::Exited {
                        node,
                        generation,
                        exit,
                        last_lines,
                        ran: None,
                    },
                )
            }
            "ready" => {
                let (node, generation) = generation(words[1]);
                engine.handle(now, Event::Ready { node, generation })
            }
            "timeout" => {
                let (node, generation) = generation(words[1]);
                engine.handle(now, Event::ReadyTimedOut { node, generation })
            }
            "rerun" => {
                let which = match words[1] {
                    "all" => Rerun::All,
                    "failed" => Rerun::Failed,
                    other => panic!("rerun all|failed, not `{other}`"),
                };
                engine.handle(now, Event::Rerun(which))
            }
            "tick" => engine.handle(now, Event::Tick),
            "renewed" => {
                let node = engine.project().find(words[1]).expect("known node");
                engine.handle(
                    now,
                    Event::SocketRenewed {
                        node,
                        socket: words[2].to_owned(),
                    },
                )
            }
            "stopped" => {
                let (node, generation) = generation(words[1]);
                let signal = words[2].parse().expect("a number");
                engine.handle(
                    now,
                    Event::Suspended {
                        node,
                        generation,
                        signal,
                        pid: 42,
                    },
                )
            }
            "shutdown" => engine.handle(
                now,
                Event::Shutdown {
                    code: words[1].parse().expect("a number"),
                },
            ),
            "serving" => {
                let node = engine.project().find(words[1]).expect("known node");
                out.push_str(&format!("{line}\n"));
                match engine.serving(node) {
                    Some(generation) => {
                        out.push_str(&format!("  serving {}#{generation}\n", words[1]))
                    }
                    None => out.push_str("  serving none\n"),
                }
                continue;
            }
            "reload" => {
                let project = reload.take().expect("check_reload gives the new project");
                engine.reload(now, Arc::new(project))
            }
            other => panic!("unknown script word `{other}`"),
        };
        out.push_str(line);
        out.push('\n');
        for action in actions {
            out.push_str("  ");
            out.push_str(&describe(engine.project(), t0, &action));
            out.push('\n');
        }
    }
    out
}

fn describe(project: &Project, t0: Instant, action: &Action) -> String {
    let name = |node: &NodeId| project.node(*node).name.clone();
    let names = |nodes: &[NodeId]| nodes.iter().map(name).collect::<Vec<_>>().join(" ");
    match action {
        Action::Start { node, generation } => format!("start {}#{generation}", name(node)),
        Action::Stop { node, generation } => format!("stop {}#{generation}", name(node)),
        Action::Exit(code) => format!("exit {code}"),
        Action::KillAll => String::from("kill all"),
        Action::Answer { node } => format!("answer {}", name(node)),
        Action::Release { node } => format!("release {}", name(node)),
        Action::Wake { at } => format!("wake at {}ms", at.duration_since(t0).as_millis()),
        Action::Report(report) => match report {
            Report::WaveStarted {
                wave,
                trigger,
                nodes,
            } => {
                let trigger = match trigger {
                    Trigger::Start => "start".to_owned(),
                    Trigger::Paths { first, count } => format!("{} ({count})", first[0].display()),
                    Trigger::Rerun(which) => format!("rerun {which:?}"),
                };
                format!("wave {wave} by {trigger}: {}", names(nodes))
            }
            // Implied by `start`; left out to keep transcripts short.
            Report::NodeStarted { .. } => String::from("-"),
            // Implied by `shutdown`.
            Report::Stopping => String::from("-"),
            Report::NodeFinished {
                node,
                exit,
                duration,
                last_lines,
                ..
            } => {
                let own = match project.node(*node).kind {
                    crate::model::Kind::Service => format!(" ({})", last_lines.join("; ")),
                    crate::model::Kind::Task => String::new(),
                };
                format!(
                    "finished {} {exit:?} in {}ms{own}",
                    name(node),
                    duration.as_millis()
                )
            }
            // Which instance took over matters where an older early one may still serve.
            Report::ServiceReady {
                node,
                generation,
                duration,
                gates,
            } if !gates.is_empty() => format!(
                "ready {}#{generation} in {}ms, passed {}",
                name(node),
                duration.as_millis(),
                names(gates)
            ),
            Report::ServiceReady { node, duration, .. } => {
                format!("ready {} in {}ms", name(node), duration.as_millis())
            }
            Report::ServingUnchecked {
                node,
                generation,
                gates,
                ready,
            } => format!(
                "unchecked {}#{generation} serves, {}, before {}",
                name(node),
                if *ready { "ready" } else { "starting" },
                names(gates)
            ),
            Report::AwaitingGates {
                node,
                duration,
                gates,
                serving,
            } => {
                let alone = if *serving { "" } else { " (serving: no other)" };
                format!(
                    "ready {} in {}ms, awaits {}{alone}",
                    name(node),
                    duration.as_millis(),
                    names(gates)
                )
            }
            Report::Blocked { node, by } => format!("blocked {} by {}", name(node), name(by)),
            Report::Restarting { node } => format!("restarting {}", name(node)),
            Report::ServiceKept {
                node,
                since,
                failed,
            } => format!(
                "kept {} (since {}ms): {} failed",
                name(node),
                since.duration_since(t0).as_millis(),
                name(failed)
            ),
            Report::ReadyTimedOut { node, kept } => {
                let kept = if *kept { " (kept: no other)" } else { "" };
                format!("not ready {}{kept}", name(node))
            }
            Report::ServiceDown { node, restart_in } => match restart_in {
                Some(delay) => format!("down {}: restart in {}ms", name(node), delay.as_millis()),
                None => format!("down {}: waits for a change", name(node)),
            },
            Report::LoopDetected { node, paths } => {
                let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                format!("loop {}: {}", name(node), paths.join(" "))
            }
            Report::SocketRenewed { node, socket } => {
                format!("renewed {} `{socket}`", name(node))
            }
            Report::Suspended { node, signal, .. } => {
                format!("suspended {} by {signal}", name(node))
            }
            Report::WaveFinished {
                wave,
                failed,
                graph,
                crashed,
            } => {
                // A failed service that an older instance still serves: its edit is not live.
                let stale: String = graph
                    .iter()
                    .filter(|s| s.result == NodeResult::Failed)
                    .filter_map(|s| {
                        let since = s.serving_since?.duration_since(t0).as_millis();
                        Some(format!(
                            "; {} failed, serving since {since}ms",
                            name(&s.node)
                        ))
                    })
                    .collect();
                // What crashed during the wave, and what serves after it.
                let crashed: String = crashed
                    .iter()
                    .map(|c| {
                        let serving = c.serving.map_or_else(
                            || "none".to_owned(),
                            |g| format!("{}#{g}", name(&c.node)),
                        );
                        format!(
                            "; crashed {}#{} {:?}, serving {serving}",
                            name(&c.node),
                            c.generation,
                            c.exit
                        )
                    })
                    .collect();
                format!("wave {wave} done, {failed} failed{stale}{crashed}")
            }
        },
    }
}

/// One scripted scenario: the project, the options, the project a `reload` loads, and the
/// transcript it must produce, line for line.
struct Scenario {
    project: Project,
    options: Options,
    reload: Option<Project>,
    prelude: &'static str,
}

impl Scenario {
    /// The project of `nodes`, in watch mode.
    fn new(nodes: Nodes) -> Self {
        Self::of(project(nodes))
    }

    /// A project the caller has adjusted, in watch mode.
    fn of(project: Project) -> Self {
        Self {
            project,
            options: watch(),
            reload: None,
            prelude: "",
        }
    }

    fn options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// The project that the script's `reload` loads.
    fn reloading(mut self, nodes: Nodes) -> Self {
        self.reload = Some(project(nodes));
        self
    }

    /// Starts from [`SERVING`]: the transcript begins with WEB's first wave up to `serve#4`
    /// ready, which is run and compared like the rest.
    fn serving(mut self) -> Self {
        self.prelude = SERVING;
        self
    }

    /// Runs the script formed by the unindented lines of the prelude and `transcript`, and
    /// compares what it produced with all of them.
    #[track_caller]
    fn expect(self, transcript: &str) {
        let expected = format!(
            "{}{}",
            self.prelude,
            unindent(transcript).trim_matches('\n')
        );
        compare(
            Engine::new(Arc::new(self.project), self.options),
            self.reload,
            &expected,
        );
    }
}

/// [`WEB`]'s first wave, every run instant, up to `serve#4` ready: where most service
/// scenarios begin.
const SERVING: &str = "\
start
  wave 1 by start: clippy test build serve
  start clippy#1
  start build#2
exit clippy#1 0
  finished clippy Code(0) in 0ms
  start test#3
exit build#2 0
  finished build Code(0) in 0ms
exit test#3 0
  finished test Code(0) in 0ms
  start serve#4
ready serve#4
  ready serve in 0ms
  wave 1 done, 0 failed
";

/// Shorthand for a [`Scenario`] of `nodes` with `options`.
#[track_caller]
fn check(nodes: Nodes, options: Options, expected: &str) {
    Scenario::new(nodes).options(options).expect(expected);
}

/// Shorthand for a [`Scenario`] of an adjusted project with `options`.
#[track_caller]
fn check_project(project: Project, options: Options, expected: &str) {
    Scenario::of(project).options(options).expect(expected);
}

/// Runs `engine` on the script formed by the unindented lines of `expected` and compares the
/// transcript with all of `expected`.
#[track_caller]
fn compare(mut engine: Engine, reload: Option<Project>, expected: &str) {
    let expected = unindent(expected);
    let script: String = expected
        .lines()
        .filter(|l| !l.starts_with(' '))
        .map(|l| format!("{l}\n"))
        .collect();
    let transcript: String = run(&mut engine, &script, reload)
        .lines()
        .filter(|l| l.trim() != "-")
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(transcript.trim(), expected.trim(), "\n{transcript}");
}

/// Strips the common indentation of the expected transcript, keeping the relative indent.
fn unindent(text: &str) -> String {
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    text.lines()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

fn once() -> Options {
    Options {
        mode: Mode::Once,
        ..watch()
    }
}

fn ci() -> Options {
    Options {
        services: false,
        ..once()
    }
}

fn web_with(restart: Restart) -> Project {
    let mut project = project(WEB);
    project.nodes[3].restart = restart;
    project
}

mod answer;
mod early;
mod locks;
mod loops;
mod ordering;
mod reload;
mod restarts;
mod services;
