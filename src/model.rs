//! The validated Hotfile: what every other module works from.
//!
//! `hotfile` builds a [`Project`] only when the whole file is sound, so nothing downstream
//! re-checks names, globs, addresses or cycles. Nodes are addressed by [`NodeId`], their index
//! in [`Project::nodes`], which is also their declaration order.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::sync::{Arc, OnceLock};

use globset::{Candidate, Glob, GlobSet, GlobSetBuilder};
use regex::Regex;

pub use crate::text::Text;

/// A node's index in [`Project::nodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub usize);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A whole, validated Hotfile.
#[derive(Debug, Clone)]
pub struct Project {
    /// The Hotfile itself (absolute).
    pub hotfile: PathBuf,
    /// The directory holding the Hotfile: every relative path and glob is relative to it.
    pub root: PathBuf,
    /// Nodes in declaration order; `NodeId(i)` is `nodes[i]`.
    pub nodes: Vec<Node>,
    /// Quiet period that closes a burst of file changes into one wave.
    pub debounce: Duration,
}

impl Project {
    /// The node called `name`, if any.
    pub fn find(&self, name: &str) -> Option<NodeId> {
        self.nodes.iter().position(|n| n.name == name).map(NodeId)
    }

    /// The node with this id. Ids come from this project, so the index is always valid.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0]
    }

    /// Every node id, in declaration order.
    pub fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        (0..self.nodes.len()).map(NodeId)
    }

    /// `node`'s directory as documents show it: relative to the root (`.`, `./web`), so
    /// output does not depend on where the project lies; absolute only when outside it.
    pub fn shown_dir(&self, node: &Node) -> std::borrow::Cow<'static, str> {
        // Most nodes have no `dir`: a byte comparison, not a walk of both paths' components,
        // and no allocation.
        if node.dir.as_os_str() == self.root.as_os_str() {
            return ".".into();
        }
        match node.dir.strip_prefix(&self.root) {
            Ok(dir) if dir.as_os_str().is_empty() => ".".into(),
            Ok(dir) => format!("./{}", dir.display()).into(),
            Err(_) => node.dir.display().to_string().into(),
        }
    }

    /// The `ignore` globs every watching node has (those of `defaults`, and a node's own
    /// that all the others repeat): what no node can need, so the watcher never walks,
    /// watches or reads it. Empty when no node watches anything.
    pub fn common_ignores(&self) -> Vec<String> {
        let mut watching = self.nodes.iter().filter(|n| !n.inputs.watch.is_empty());
        let Some(first) = watching.next() else {
            return Vec::new();
        };
        let mut common = first.inputs.ignore.to_vec();
        for node in watching {
            common.retain(|g| node.inputs.ignore.contains(g));
        }
        common.dedup();
        common.iter().map(Text::to_string).collect()
    }
}

/// Whether a node runs to completion or keeps running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Runs to completion; success is exit status 0.
    Task,
    /// Long-running; (re)started, never awaited.
    Service,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Task => "task",
            Kind::Service => "service",
        }
    }
}

/// One `task` or `service`.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: Text,
    pub kind: Kind,
    pub run: Command,
    /// Inputs: which changed paths make this node stale.
    pub inputs: Inputs,
    /// Dependencies (`after`), in the order written, then the `gate` ones: every edge of the
    /// graph (staleness, order, cycles) is here.
    pub after: Vec<NodeId>,
    /// The dependencies in `after` that gate a service's promotion, not its start (`gate`): a
    /// new instance starts once the others succeeded and gets connections once these did too.
    pub gates: Vec<NodeId>,
    /// Environment for the command: `defaults` first, then the node's own (which win).
    pub env: Vec<(Text, Text)>,
    /// Working directory (absolute). Shared: most nodes run in the root, one path for all
    /// of them rather than a copy each.
    pub dir: Arc<Path>,
    /// Listening sockets, in fd order (services only).
    pub sockets: Vec<SocketSpec>,
    /// How a new instance announces it is serving (services only).
    pub ready: Option<Ready>,
    /// How long a new instance may take to become ready before hot gives up on it and keeps
    /// the old one (`ready ... timeout="30s"`; default 60s).
    pub ready_timeout: Duration,
    pub stop: Stop,
    /// What happens when a service instance exits on its own (services only).
    pub restart: Restart,
    /// Named resources this task holds while it runs (`lock "cargo"`): hot never runs two
    /// holders of one name at once. Cargo jobs on one target directory serialise on cargo's
    /// own build-directory lock anyway; queueing them in hot keeps each one's duration its own
    /// and lets the first in dependency order go first.
    pub locks: Vec<Text>,
    /// `reload "ADDR"`: hot's browser endpoint for this service (services only).
    pub reload: Option<Reload>,
}

/// `reload "ADDR" public="true"`: where hot serves the service's browser endpoint (`/hot.js`,
/// its event stream, LiveReload). Only a loopback address unless `public` says otherwise, since
/// the stream carries build output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reload {
    pub addr: SocketAddr,
    pub public: bool,
}

/// `restart "always"`: whether a service that exits on its own is started again (with
/// backoff) or waits for the next change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Restart {
    /// After any exit, even status 0 (a server is meant to keep running).
    #[default]
    Always,
    /// Only after a failure: a non-zero status or a signal.
    OnFailure,
    /// Never: the next change starts it.
    Never,
}

impl Restart {
    pub const ALL: [Restart; 3] = [Restart::Always, Restart::OnFailure, Restart::Never];

    /// As written in a Hotfile.
    pub fn as_str(self) -> &'static str {
        match self {
            Restart::Always => "always",
            Restart::OnFailure => "on-failure",
            Restart::Never => "never",
        }
    }

    pub fn parse(text: &str) -> Option<Restart> {
        Restart::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// What to execute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Command {
    /// `run "CMD"`: one shell command line, run with `sh -c`.
    Shell(Text),
    /// `run "prog" "arg"...`: executed directly, no shell.
    Argv(Vec<Text>),
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Shell(line) => f.write_str(line),
            Command::Argv(argv) => {
                for (i, arg) in argv.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    if arg.is_empty() || arg.contains(|c: char| c.is_whitespace() || c == '\'') {
                        write!(f, "{arg:?}")?;
                    } else {
                        f.write_str(arg)?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// The globs of one node. Paths given to [`Inputs::matches`] are relative to the project root
/// and use `/` separators.
///
/// The globs are validated when the Hotfile is read, but parsed again and compiled into
/// matchers only on first use: compiling is most of the cost of reading a large Hotfile, and
/// `hot check`, `hot graph` and `hot ci` never match a path (keeping each parsed `Glob` meant
/// cloning 1,500 of them for a 500-node Hotfile).
#[derive(Debug, Clone)]
pub struct Inputs {
    /// `watch` globs as written.
    pub watch: Vec<Text>,
    /// `ignore` globs as written (the node's own, then `defaults`); a node without its own
    /// shares the list of `defaults`.
    pub ignore: Arc<[Text]>,
    /// The parsed globs, when given; else `watch` and `ignore` are parsed with [`parse_glob`].
    /// Both boxed: a one-shot command never fills them, and unboxed they were a fifth of
    /// each node (each 500-node page of the model a page fault).
    parsed: Option<Box<(Vec<Glob>, Vec<Glob>)>>,
    matcher: OnceLock<Option<Box<(GlobSet, GlobSet)>>>,
}

/// A Hotfile glob as hot reads it: a leading `./` dropped, `*` not crossing `/` (globset's
/// default would).
pub(crate) fn parse_glob(text: &str) -> Result<Glob, globset::Error> {
    let text = text.strip_prefix("./").unwrap_or(text);
    globset::GlobBuilder::new(text)
        .literal_separator(true)
        .build()
}

impl Inputs {
    /// Inputs from validated globs (text as written, parsed glob).
    pub fn new(watch: Vec<(Text, Glob)>, ignore: Vec<(Text, Glob)>) -> Inputs {
        let (watch, globs) = watch.into_iter().unzip();
        let (ignore, ignore_globs): (Vec<Text>, _) = ignore.into_iter().unzip();
        Inputs {
            watch,
            ignore: ignore.into(),
            parsed: Some(Box::new((globs, ignore_globs))),
            matcher: OnceLock::new(),
        }
    }

    /// Inputs from globs as written, each one [`parse_glob`] accepts (the Hotfile's checker
    /// has parsed each distinct text once).
    pub(crate) fn checked(watch: Vec<Text>, ignore: Arc<[Text]>) -> Inputs {
        Inputs {
            watch,
            ignore,
            parsed: None,
            matcher: OnceLock::new(),
        }
    }

    /// True when a change to `path` makes this node stale.
    pub fn matches(&self, path: &Path) -> bool {
        self.matches_candidate(&Candidate::new(path))
    }

    /// [`Inputs::matches`] for a path prepared once for every node's globs (globset splits
    /// it into its name and extension for each set it is matched against otherwise: on a big
    /// tree's walk that was half of the matching).
    pub fn matches_candidate(&self, path: &Candidate<'_>) -> bool {
        let matcher = self.matcher.get_or_init(|| {
            let set = |globs: &mut dyn Iterator<Item = Option<Glob>>| {
                let mut builder = GlobSetBuilder::new();
                for glob in globs {
                    builder.add(glob?);
                }
                builder.build().ok()
            };
            match self.parsed.as_deref() {
                Some((watch, ignore)) => Some(Box::new((
                    set(&mut watch.iter().cloned().map(Some))?,
                    set(&mut ignore.iter().cloned().map(Some))?,
                ))),
                None => {
                    let parse = |text: &Text| parse_glob(text).ok();
                    Some(Box::new((
                        set(&mut self.watch.iter().map(parse))?,
                        set(&mut self.ignore.iter().map(parse))?,
                    )))
                }
            }
        });
        match matcher.as_deref() {
            Some((watch, ignore)) => {
                watch.is_match_candidate(path) && !ignore.is_match_candidate(path)
            }
            // Compiling can only fail on a regex size limit that the Hotfile's size limit keeps
            // out of reach; should it happen, rerunning too often beats missing a change.
            None => !self.watch.is_empty(),
        }
    }
}

/// `socket "NAME" "ADDR"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketSpec {
    pub name: String,
    pub addr: SocketAddr,
}

/// `ready ...`: how hot learns a new service instance is serving.
#[derive(Debug, Clone)]
pub enum Ready {
    /// `ready delay="300ms"`.
    Delay(Duration),
    /// `ready log="REGEX"`: a line of its output matches.
    Log(Regex),
    /// `ready "notify"`: `READY=1` on `NOTIFY_SOCKET`.
    Notify,
}

/// `stop signal="SIG" timeout="DURATION"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop {
    pub signal: Signal,
    pub timeout: Duration,
}

impl Default for Stop {
    fn default() -> Self {
        Stop {
            signal: Signal::Term,
            timeout: Duration::from_secs(5),
        }
    }
}

/// The signals a Hotfile may name for `stop`. Kept as our own enum so the model stays
/// portable; `supervisor` maps it to the platform's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Hup,
    Int,
    Quit,
    Kill,
    Usr1,
    Usr2,
    Term,
}

impl Signal {
    pub const ALL: [Signal; 7] = [
        Signal::Hup,
        Signal::Int,
        Signal::Quit,
        Signal::Kill,
        Signal::Usr1,
        Signal::Usr2,
        Signal::Term,
    ];

    /// The conventional name, e.g. `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Hup => "SIGHUP",
            Signal::Int => "SIGINT",
            Signal::Quit => "SIGQUIT",
            Signal::Kill => "SIGKILL",
            Signal::Usr1 => "SIGUSR1",
            Signal::Usr2 => "SIGUSR2",
            Signal::Term => "SIGTERM",
        }
    }

    /// Parses `SIGTERM`, `TERM` or `term`.
    pub fn parse(text: &str) -> Option<Signal> {
        let upper = text.to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        Signal::ALL.into_iter().find(|s| &s.name()[3..] == bare)
    }
}

/// Parses `"300ms"`, `"5s"`, `"1m"`, `"1h"`, `"1.5s"`. Returns `None` for anything else.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_duration(text: &str, expected: Option<u64>) {
        assert_eq!(
            parse_duration(text).map(|d| d.as_millis() as u64),
            expected,
            "{text}"
        );
    }

    #[test]
    fn durations() {
        check_duration("300ms", Some(300));
        check_duration("5s", Some(5000));
        check_duration("1m", Some(60_000));
        check_duration("1h", Some(3_600_000));
        check_duration("1.5s", Some(1500));
        check_duration("0ms", Some(0));
        check_duration("5", None);
        check_duration("s", None);
        check_duration("5 s", None);
        check_duration("-5s", None);
        check_duration("5sec", None);
        check_duration(".5s", None);
        check_duration("", None);
    }

    #[test]
    fn signals() {
        assert_eq!(Signal::parse("SIGTERM"), Some(Signal::Term));
        assert_eq!(Signal::parse("term"), Some(Signal::Term));
        assert_eq!(Signal::parse("HUP"), Some(Signal::Hup));
        assert_eq!(Signal::parse("SIGTREM"), None);
        assert_eq!(Signal::parse(""), None);
    }

    #[test]
    fn command_display_quotes_only_when_needed() {
        let argv = Command::Argv(vec!["cargo".into(), "run".into(), "a b".into()]);
        assert_eq!(argv.to_string(), r#"cargo run "a b""#);
        assert_eq!(
            Command::Shell("cargo test".into()).to_string(),
            "cargo test"
        );
    }
}

/// Small projects for unit tests, without a Hotfile.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use globset::GlobBuilder;

    fn globs(globs: &[&str]) -> Vec<(Text, Glob)> {
        globs
            .iter()
            .map(|glob| {
                let parsed = GlobBuilder::new(glob)
                    .literal_separator(true)
                    .build()
                    .expect("test globs are valid");
                (Text::from(*glob), parsed)
            })
            .collect()
    }

    /// A project from `(name, watch globs, after)`. Nodes whose name starts with `serve` are
    /// services with a `ready` delay, `daemon...` services without `ready`, the rest tasks.
    /// Each node runs `echo NAME`.
    pub(crate) fn project(nodes: &[(&str, &[&str], &[&str])]) -> Project {
        let names: Vec<&str> = nodes.iter().map(|n| n.0).collect();
        let nodes = nodes
            .iter()
            .map(|(name, watch, after)| {
                let ready = name.starts_with("serve");
                let service = ready || name.starts_with("daemon");
                Node {
                    name: Text::from(*name),
                    kind: if service { Kind::Service } else { Kind::Task },
                    run: Command::Shell(format!("echo {name}").into()),
                    inputs: Inputs::new(globs(watch), Vec::new()),
                    after: after
                        .iter()
                        .map(|a| NodeId(names.iter().position(|n| n == a).expect("known node")))
                        .collect(),
                    gates: Vec::new(),
                    env: Vec::new(),
                    dir: Path::new("/project").into(),
                    sockets: Vec::new(),
                    ready: ready.then(|| Ready::Delay(Duration::from_millis(100))),
                    ready_timeout: Duration::from_secs(60),
                    stop: Stop::default(),
                    restart: Restart::default(),
                    locks: Vec::new(),
                    reload: None,
                }
            })
            .collect();
        Project {
            hotfile: PathBuf::from("/project/Hotfile"),
            root: PathBuf::from("/project"),
            nodes,
            debounce: Duration::from_millis(10),
        }
    }
}
