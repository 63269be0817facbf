//! Walking the KDL tree: which node may go where, with which arguments and properties.
//!
//! The result is a [`RawFile`]: every value still a string with its span, nothing
//! interpreted. Meaning (names, globs, addresses, durations, the graph) is `check`'s job.

use std::marker::PhantomData;
use std::ops::{Index, Range};

use miette::SourceSpan;

use super::error::Mistake;
use super::suggest;
use super::tree::{Entry, NodeRef, Span, Tree, Value};
use crate::model::Kind;

/// A string value and where it was written, borrowed from the document (a `String` per value
/// was a sixth of reading a 500-node Hotfile).
#[derive(Debug, Clone, Copy)]
pub(super) struct Str<'t> {
    pub value: &'t str,
    /// Narrow (`u32`s): the raw nodes' lists hold thousands of these, and each fresh page of
    /// them is a page fault; [`Str::span`] widens it where a diagnostic needs it.
    pub at: Span,
}

impl Str<'_> {
    pub(super) fn span(&self) -> SourceSpan {
        self.at.into()
    }
}

#[derive(Debug, Default)]
pub(super) struct RawFile<'t> {
    pub nodes: Vec<RawNode<'t>>,
    pub defaults: RawDefaults<'t>,
    /// `root "DIR"`: the project root, relative to the Hotfile's directory.
    pub root: Option<Str<'t>>,
    /// Every node's lists, which are ranges of these.
    pub lists: Lists<'t>,
}

/// The values of every list in the file (`run`, `watch`, `env`, ...), each list a range of
/// one table: a `Vec` per list was ~1,900 allocations and as many frees for 500 nodes, a
/// tenth of `hot ci --dry-run`'s instructions.
#[derive(Debug, Default)]
pub(super) struct Lists<'t> {
    strs: Vec<Str<'t>>,
    pairs: Vec<(Str<'t>, Str<'t>)>,
}

/// A list of [`Str`]s, indexing [`Lists`].
pub(super) type Strs = List<OfStrs>;
/// A list of pairs (`KEY="VALUE"`, a socket's name and address), indexing [`Lists`].
pub(super) type Pairs = List<OfPairs>;
#[derive(Debug)]
pub(super) enum OfStrs {}
#[derive(Debug)]
pub(super) enum OfPairs {}

/// A range of one of [`Lists`]' tables (a Hotfile is at most `MAX_BYTES`: `u32`s).
#[derive(Debug)]
pub(super) struct List<K> {
    start: u32,
    end: u32,
    of: PhantomData<K>,
}

impl<K> Clone for List<K> {
    fn clone(&self) -> List<K> {
        *self
    }
}

impl<K> Copy for List<K> {}

impl<K> Default for List<K> {
    fn default() -> List<K> {
        List {
            start: 0,
            end: 0,
            of: PhantomData,
        }
    }
}

impl<K> List<K> {
    /// What was pushed onto a table of `len` items since it held `from`.
    fn since(from: usize, len: usize) -> List<K> {
        let narrow = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        List {
            start: narrow(from),
            end: narrow(len),
            of: PhantomData,
        }
    }

    fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    pub(super) fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    pub(super) fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// This list followed by `more`, which was just pushed onto `table`: in place when this
    /// one ends where `more` starts (a child written once), else both copied to the end
    /// (a node that writes `watch` twice, apart); the first copy is left unused.
    fn join<T: Copy>(self, more: List<K>, table: &mut Vec<T>) -> List<K> {
        if self.is_empty() {
            return more;
        }
        if self.end == more.start {
            return List {
                end: more.end,
                ..self
            };
        }
        let from = table.len();
        table.extend_from_within(self.range());
        table.extend_from_within(more.range());
        List::since(from, table.len())
    }
}

impl<'t> Index<Strs> for Lists<'t> {
    type Output = [Str<'t>];
    fn index(&self, list: Strs) -> &[Str<'t>] {
        &self.strs[list.range()]
    }
}

impl<'t> Index<Pairs> for Lists<'t> {
    type Output = [(Str<'t>, Str<'t>)];
    fn index(&self, list: Pairs) -> &[(Str<'t>, Str<'t>)] {
        &self.pairs[list.range()]
    }
}

#[derive(Debug, Default)]
pub(super) struct RawDefaults<'t> {
    pub ignore: Strs,
    pub env: Pairs,
    pub debounce: Option<Str<'t>>,
}

#[derive(Debug)]
pub(super) struct RawNode<'t> {
    pub kind: Kind,
    /// `None` when the name is missing or not a string (already reported).
    pub name: Option<Str<'t>>,
    /// The `task`/`service` keyword.
    pub keyword: SourceSpan,
    pub run: Option<Strs>,
    pub watch: Strs,
    pub ignore: Strs,
    pub after: Strs,
    /// `gate "NAME"…`: upstream checks that gate the promotion of a service's new instance,
    /// not its start; with the first `gate` keyword.
    pub gate: Strs,
    pub gate_keyword: Option<SourceSpan>,
    pub env: Pairs,
    pub dir: Option<Str<'t>>,
    /// `stop`, `ready` and `reload` are boxed: few nodes write them, and 500 nodes' table
    /// is touched page by page (a fresh page is a page fault).
    pub stop: Option<Box<RawStop<'t>>>,
    pub sockets: Pairs,
    pub ready: Option<Box<RawReady<'t>>>,
    pub restart: Option<Str<'t>>,
    pub locks: Strs,
    pub reload: Option<Box<RawReload<'t>>>,
}

/// `reload "ADDR" public="true"`.
#[derive(Debug)]
pub(super) struct RawReload<'t> {
    /// The `reload` keyword.
    pub keyword: SourceSpan,
    /// `None` when missing or not a string (already reported).
    pub addr: Option<Str<'t>>,
    pub public: Option<Str<'t>>,
}

#[derive(Debug, Default)]
pub(super) struct RawStop<'t> {
    pub signal: Option<Str<'t>>,
    pub timeout: Option<Str<'t>>,
}

#[derive(Debug)]
pub(super) struct RawReady<'t> {
    /// The `ready` keyword.
    pub keyword: SourceSpan,
    pub args: Vec<Str<'t>>,
    pub delay: Option<Str<'t>>,
    pub log: Option<Str<'t>>,
    pub timeout: Option<Str<'t>>,
}

const TOP: &[&str] = &["task", "service", "defaults", "root"];
const IN_TASK: &[&str] = &[
    "run", "watch", "ignore", "after", "env", "dir", "stop", "lock",
];
const IN_SERVICE: &[&str] = &[
    "run", "watch", "ignore", "after", "gate", "env", "dir", "stop", "socket", "ready", "restart",
    "reload",
];
const IN_DEFAULTS: &[&str] = &["ignore", "env", "debounce"];

/// Reads the document's shape, reporting every misplaced or malformed node.
pub(super) fn read<'t>(doc: &Tree<'t>, mistakes: &mut Vec<Mistake>) -> RawFile<'t> {
    // Each string is an entry of the tree, and each pair at least one: sized up front, the
    // tables are not grown (and copied) a dozen times; what is not filled is never touched.
    let mut walker = Walker {
        mistakes,
        lists: Lists {
            strs: Vec::with_capacity(doc.entry_count()),
            pairs: Vec::with_capacity(doc.entry_count()),
        },
    };
    let mut file = RawFile::default();
    file.nodes.reserve(doc.top().count());
    let mut defaults_at: Option<SourceSpan> = None;
    let mut root_at: Option<SourceSpan> = None;
    for node in doc.top() {
        let name = node.name();
        match name {
            "task" => file.nodes.push(walker.node(node, Kind::Task)),
            "service" => file.nodes.push(walker.node(node, Kind::Service)),
            "defaults" => {
                let here = node.name_span();
                if let Some(first) = defaults_at {
                    walker.mistakes.push(Mistake::DuplicateChild {
                        node: "defaults".into(),
                        parent: "the Hotfile".into(),
                        first,
                        second: here,
                    });
                }
                defaults_at.get_or_insert(here);
                walker.defaults(node, &mut file.defaults);
            }
            "root" => {
                let here = node.name_span();
                let dir = walker.exactly::<1>(node, "a directory");
                if let Some(first) = root_at {
                    walker.mistakes.push(Mistake::DuplicateChild {
                        node: "root".into(),
                        parent: "the Hotfile".into(),
                        first,
                        second: here,
                    });
                } else {
                    root_at = Some(here);
                    file.root = dir.map(|[d]| d);
                }
            }
            _ if IN_SERVICE.contains(&name)
                || IN_TASK.contains(&name)
                || IN_DEFAULTS.contains(&name) =>
            {
                let inside = if IN_DEFAULTS.contains(&name) && !IN_SERVICE.contains(&name) {
                    "`defaults`"
                } else if IN_TASK.contains(&name) && !IN_SERVICE.contains(&name) {
                    "a `task`"
                } else if IN_TASK.contains(&name) {
                    "a `task` or a `service`"
                } else {
                    "a `service`"
                };
                walker.mistakes.push(Mistake::Misplaced {
                    message: format!("`{name}` must be inside {inside}"),
                    span: node.name_span(),
                    help: None,
                });
            }
            _ => walker.mistakes.push(Mistake::UnknownNode {
                name: name.into(),
                place: "at the top level",
                span: node.name_span(),
                help: Some(match suggest(name, TOP.iter().copied()) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => "the top level holds `task`, `service`, `defaults` and `root`".into(),
                }),
            }),
        }
    }
    file.lists = walker.lists;
    file
}

struct Walker<'m, 't> {
    mistakes: &'m mut Vec<Mistake>,
    lists: Lists<'t>,
}

impl<'t> Walker<'_, 't> {
    fn node(&mut self, node: NodeRef<'_, 't>, kind: Kind) -> RawNode<'t> {
        let keyword = node.name_span();
        self.no_props_at_all(node);
        // The arguments read in place: a `Vec` of them per node was a tenth of the walk.
        let mut args = node.entries().iter().filter(|e| e.key.is_none());
        let mut name = None;
        match args.next() {
            None => self.mistakes.push(Mistake::MissingArgument {
                node: kind.as_str().into(),
                what: "a name",
                span: keyword,
                help: Some(format!("write {} \"NAME\" {{ … }}", kind.as_str())),
            }),
            Some(first) => {
                name = self.string(kind.as_str(), first);
                let rest: Vec<&Entry<'t>> = args.collect();
                self.unexpected(kind.as_str(), &rest);
            }
        }
        let mut raw = RawNode {
            kind,
            name,
            keyword,
            run: None,
            watch: Strs::default(),
            ignore: Strs::default(),
            after: Strs::default(),
            gate: Strs::default(),
            gate_keyword: None,
            env: Pairs::default(),
            dir: None,
            stop: None,
            sockets: Pairs::default(),
            ready: None,
            restart: None,
            locks: Strs::default(),
            reload: None,
        };
        let parent = match kind {
            Kind::Task => "this task",
            Kind::Service => "this service",
        };
        let mut seen = Seen::default();
        for child in node.children() {
            let cname = child.name();
            let here = child.name_span();
            match cname {
                "run" => {
                    let argv = self.strings(child, "a command");
                    // Kept even when empty (already reported), so "no `run`" is not added.
                    if seen.first("run", here, parent, self) {
                        raw.run = Some(argv);
                    }
                }
                "watch" => {
                    let more = self.strings(child, "at least one glob");
                    raw.watch = raw.watch.join(more, &mut self.lists.strs);
                }
                "ignore" => {
                    let more = self.strings(child, "at least one glob");
                    raw.ignore = raw.ignore.join(more, &mut self.lists.strs);
                }
                "after" => {
                    let more = self.strings(child, "at least one name");
                    raw.after = raw.after.join(more, &mut self.lists.strs);
                }
                "env" => {
                    let more = self.env(child);
                    raw.env = raw.env.join(more, &mut self.lists.pairs);
                }
                "dir" => {
                    let dir = self.exactly::<1>(child, "a path");
                    if seen.first("dir", here, parent, self) {
                        raw.dir = dir.map(|[d]| d);
                    }
                }
                "stop" => {
                    let stop = self.stop(child);
                    if seen.first("stop", here, parent, self) {
                        raw.stop = Some(Box::new(stop));
                    }
                }
                "socket" | "ready" | "restart" | "reload" | "gate" if kind == Kind::Task => {
                    self.mistakes.push(Mistake::Misplaced {
                        message: format!("`{cname}` is only allowed in a `service`"),
                        span: here,
                        help: Some(
                            "a task runs to completion; declare a `service` for a server".into(),
                        ),
                    });
                }
                "lock" if kind == Kind::Service => {
                    self.mistakes.push(Mistake::Misplaced {
                        message: "`lock` is only allowed in a `task`".into(),
                        span: here,
                        help: Some(
                            "a service keeps running, so it would hold the lock for good; \
                             build it in a task with the lock and run the binary"
                                .into(),
                        ),
                    });
                }
                "lock" => {
                    let more = self.strings(child, "at least one name");
                    raw.locks = raw.locks.join(more, &mut self.lists.strs);
                }
                "gate" => {
                    raw.gate_keyword.get_or_insert(here);
                    let more = self.strings(child, "at least one name");
                    raw.gate = raw.gate.join(more, &mut self.lists.strs);
                }
                "socket" => {
                    if let Some([sname, addr]) = self.exactly::<2>(child, "a name and an address") {
                        let from = self.lists.pairs.len();
                        self.lists.pairs.push((sname, addr));
                        let more = Pairs::since(from, self.lists.pairs.len());
                        raw.sockets = raw.sockets.join(more, &mut self.lists.pairs);
                    }
                }
                "restart" => {
                    let restart = self.exactly::<1>(child, "a policy");
                    if seen.first("restart", here, parent, self) {
                        raw.restart = restart.map(|[r]| r);
                    }
                }
                "reload" => {
                    let reload = self.reload(child);
                    if seen.first("reload", here, parent, self) {
                        raw.reload = Some(Box::new(reload));
                    }
                }
                "ready" => {
                    let ready = self.ready(child);
                    if seen.first("ready", here, parent, self) {
                        raw.ready = Some(Box::new(ready));
                    }
                }
                "debounce" => self.mistakes.push(Mistake::Misplaced {
                    message: "`debounce` is only allowed in `defaults`".into(),
                    span: here,
                    help: Some(
                        "it applies to the whole graph: `defaults { debounce \"50ms\" }`".into(),
                    ),
                }),
                "task" | "service" | "defaults" => self.mistakes.push(Mistake::Misplaced {
                    message: format!("`{cname}` is only allowed at the top level"),
                    span: here,
                    help: None,
                }),
                _ => {
                    let allowed = if kind == Kind::Task {
                        IN_TASK
                    } else {
                        IN_SERVICE
                    };
                    // A misspelt `run` is reported as such, not also as a missing `run`.
                    if self.unknown_child(cname, here, kind.as_str(), allowed) == Some("run") {
                        raw.run.get_or_insert_with(Strs::default);
                    }
                }
            }
        }
        raw
    }

    fn defaults(&mut self, node: NodeRef<'_, 't>, defaults: &mut RawDefaults<'t>) {
        let (args, props) = split(node);
        self.no_props(node, &props, &[]);
        self.unexpected("defaults", &args);
        let mut seen = Seen::default();
        for child in node.children() {
            let cname = child.name();
            let here = child.name_span();
            match cname {
                "ignore" => {
                    let more = self.strings(child, "at least one glob");
                    defaults.ignore = defaults.ignore.join(more, &mut self.lists.strs);
                }
                "env" => {
                    let more = self.env(child);
                    defaults.env = defaults.env.join(more, &mut self.lists.pairs);
                }
                "debounce" => {
                    let debounce = self.exactly::<1>(child, "a duration");
                    if seen.first("debounce", here, "`defaults`", self) {
                        defaults.debounce = debounce.map(|[d]| d);
                    }
                }
                _ if IN_SERVICE.contains(&cname)
                    || IN_TASK.contains(&cname)
                    || TOP.contains(&cname) =>
                {
                    self.mistakes.push(Mistake::Misplaced {
                        message: format!("`{cname}` is not allowed in `defaults`"),
                        span: here,
                        help: Some("`defaults` holds `ignore`, `env` and `debounce`".into()),
                    })
                }
                _ => {
                    self.unknown_child(cname, here, "defaults", IN_DEFAULTS);
                }
            }
        }
    }

    /// Reports an unknown child; returns the suggested name, if any.
    fn unknown_child(
        &mut self,
        name: &str,
        span: SourceSpan,
        parent: &str,
        allowed: &[&'static str],
    ) -> Option<&'static str> {
        let best = suggest(name, allowed.iter().copied());
        let help = match best {
            Some(best) => format!("did you mean `{best}`?"),
            None => format!("a `{parent}` holds {}", list(allowed)),
        };
        self.mistakes.push(Mistake::UnknownNode {
            name: name.into(),
            place: match parent {
                "task" => "in a task",
                "service" => "in a service",
                _ => "in defaults",
            },
            span,
            help: Some(help),
        });
        best
    }

    /// A leaf holding one or more strings and nothing else (`run`, `watch`, ...), pushed onto
    /// the table of strings.
    fn strings(&mut self, child: NodeRef<'_, 't>, what: &'static str) -> Strs {
        let cname = child.name();
        self.leaf(child);
        // Most lists are arguments alone: read in place, not split into two `Vec`s first.
        let entries = child.entries();
        self.no_props_at_all(child);
        if entries.iter().all(|e| e.key.is_some()) {
            self.missing(child, what);
        }
        let from = self.lists.strs.len();
        for entry in entries.iter().filter(|e| e.key.is_none()) {
            if let Some(value) = self.string(cname, entry) {
                self.lists.strs.push(value);
            }
        }
        Strs::since(from, self.lists.strs.len())
    }

    /// A leaf holding exactly `N` strings.
    fn exactly<const N: usize>(
        &mut self,
        child: NodeRef<'_, 't>,
        what: &'static str,
    ) -> Option<[Str<'t>; N]> {
        let cname = child.name();
        self.leaf(child);
        self.no_props_at_all(child);
        // Read in place: two `Vec`s per `dir` or `socket` otherwise.
        let args = || child.entries().iter().filter(|e| e.key.is_none());
        if args().count() < N {
            self.missing(child, what);
        }
        let extra: Vec<&Entry<'t>> = args().skip(N).collect();
        self.unexpected(cname, &extra);
        let mut values = [Str {
            value: "",
            at: Span::between(0, 0),
        }; N];
        let mut read = 0;
        for entry in args().take(N) {
            if let Some(value) = self.string(cname, entry) {
                values[read] = value;
                read += 1;
            }
        }
        (read == N).then_some(values)
    }

    /// Reports each property of a node that takes none.
    fn no_props_at_all(&mut self, node: NodeRef<'_, 't>) {
        if node.entries().iter().any(|e| e.key.is_some()) {
            let (_, props) = split(node);
            self.no_props(node, &props, &[]);
        }
    }

    /// `env KEY="VALUE" …`, pushed onto the table of pairs.
    fn env(&mut self, child: NodeRef<'_, 't>) -> Pairs {
        self.leaf(child);
        let entries = child.entries();
        for arg in entries.iter().filter(|e| e.key.is_none()) {
            self.mistakes.push(Mistake::UnexpectedArgument {
                node: "env".into(),
                span: arg.span.into(),
                help: Some("write variables as properties: env KEY=\"VALUE\"".into()),
            });
        }
        if entries.is_empty() {
            self.missing(child, "at least one KEY=\"VALUE\"");
        }
        let from = self.lists.pairs.len();
        for entry in entries {
            let Some((value, at)) = entry.key else {
                continue;
            };
            if let Some(set) = self.string("env", entry) {
                self.lists.pairs.push((Str { value, at }, set));
            }
        }
        Pairs::since(from, self.lists.pairs.len())
    }

    /// `stop signal="SIG" timeout="DUR"`.
    fn stop(&mut self, child: NodeRef<'_, 't>) -> RawStop<'t> {
        self.leaf(child);
        let (args, props) = split(child);
        self.unexpected("stop", &args);
        let mut stop = RawStop::default();
        for (key, value) in self.no_props(child, &props, &["signal", "timeout"]) {
            match key {
                "signal" => stop.signal = Some(value),
                _ => stop.timeout = Some(value),
            }
        }
        stop
    }

    /// `reload "ADDR"`, `public=…`; the address and the flag are `check`'s business.
    fn reload(&mut self, child: NodeRef<'_, 't>) -> RawReload<'t> {
        self.leaf(child);
        let (args, props) = split(child);
        if args.is_empty() {
            self.missing(child, "an address");
        }
        self.unexpected("reload", args.get(1..).unwrap_or_default());
        let mut reload = RawReload {
            keyword: child.name_span(),
            addr: args.first().and_then(|e| self.string("reload", e)),
            public: None,
        };
        for (_, value) in self.no_props(child, &props, &["public"]) {
            reload.public = Some(value);
        }
        reload
    }

    /// `ready delay=… | log=… | "notify"`, `timeout=…`; which combination is valid is
    /// `check`'s business.
    fn ready(&mut self, child: NodeRef<'_, 't>) -> RawReady<'t> {
        self.leaf(child);
        let (args, props) = split(child);
        let mut ready = RawReady {
            keyword: child.name_span(),
            args: args
                .iter()
                .filter_map(|e| self.string("ready", e))
                .collect(),
            delay: None,
            log: None,
            timeout: None,
        };
        for (key, value) in self.no_props(child, &props, &["delay", "log", "timeout"]) {
            match key {
                "delay" => ready.delay = Some(value),
                "log" => ready.log = Some(value),
                _ => ready.timeout = Some(value),
            }
        }
        ready
    }

    /// Checks the properties against `allowed`, returning the allowed ones that are strings.
    fn no_props(
        &mut self,
        node: NodeRef<'_, 't>,
        props: &[(Str<'t>, &Entry<'t>)],
        allowed: &[&str],
    ) -> Vec<(&'t str, Str<'t>)> {
        let nname = node.name();
        let mut out: Vec<(&'t str, Str<'t>)> = Vec::new();
        let mut spans: Vec<(&'t str, SourceSpan)> = Vec::new();
        for (key, entry) in props {
            if !allowed.contains(&key.value) {
                let help = match suggest(key.value, allowed.iter().copied()) {
                    Some(best) => Some(format!("did you mean `{best}`?")),
                    None if allowed.is_empty() => Some(format!("`{nname}` takes no properties")),
                    None => Some(format!("`{nname}` takes {}", list(allowed))),
                };
                self.mistakes.push(Mistake::UnknownProperty {
                    name: key.value.into(),
                    node: nname.into(),
                    span: key.span(),
                    help,
                });
                continue;
            }
            if let Some((_, first)) = spans.iter().find(|(k, _)| *k == key.value) {
                self.mistakes.push(Mistake::DuplicateKey {
                    key: key.value.into(),
                    parent: format!("`{nname}`"),
                    first: *first,
                    second: key.span(),
                });
                continue;
            }
            spans.push((key.value, key.span()));
            if let Some(value) = self.string(nname, entry) {
                out.push((key.value, value));
            }
        }
        out
    }

    fn leaf(&mut self, node: NodeRef<'_, '_>) {
        if let Some(block) = node.block() {
            self.mistakes.push(Mistake::UnexpectedBlock {
                node: node.name().into(),
                span: block,
            });
        }
    }

    fn missing(&mut self, node: NodeRef<'_, '_>, what: &'static str) {
        self.mistakes.push(Mistake::MissingArgument {
            node: node.name().into(),
            what,
            span: node.name_span(),
            help: None,
        });
    }

    fn unexpected(&mut self, node: &str, extra: &[&Entry<'_>]) {
        for entry in extra {
            self.mistakes.push(Mistake::UnexpectedArgument {
                node: node.into(),
                span: entry.span.into(),
                help: None,
            });
        }
    }

    /// The entry's value as a string, or a mistake. Bare identifiers are strings in KDL 2
    /// and are accepted (the `/` trap is caught before parsing).
    fn string(&mut self, node: &str, entry: &Entry<'t>) -> Option<Str<'t>> {
        let (found, repr) = match &entry.value {
            Value::String(s) => {
                return Some(Str {
                    value: s,
                    at: entry.value_span,
                });
            }
            Value::Other(other) => (other.0, &other.1),
        };
        self.mistakes.push(Mistake::WrongType {
            node: node.into(),
            found: format!("{found} `{repr}`"),
            span: entry.value_span.into(),
            help: Some(format!("quote it: \"{}\"", repr.trim_start_matches('#'))),
        });
        None
    }
}

/// Single-valued children already seen in one block, to report repeats: at most the seven
/// single-valued names, so a fixed table (a `Vec` was an allocation per node).
#[derive(Default)]
struct Seen([Option<(&'static str, SourceSpan)>; 8]);

impl Seen {
    /// True the first time `name` is seen; reports a duplicate otherwise.
    fn first(
        &mut self,
        name: &'static str,
        here: SourceSpan,
        parent: &str,
        w: &mut Walker<'_, '_>,
    ) -> bool {
        if let Some((_, first)) = self.0.iter().flatten().find(|(n, _)| *n == name) {
            w.mistakes.push(Mistake::DuplicateChild {
                node: name.into(),
                parent: parent.into(),
                first: *first,
                second: here,
            });
            return false;
        }
        if let Some(free) = self.0.iter_mut().find(|slot| slot.is_none()) {
            *free = Some((name, here));
        }
        true
    }
}

/// Splits a node's entries into arguments and properties (with the key as a `Str`).
fn split<'a, 't>(node: NodeRef<'a, 't>) -> (Vec<&'a Entry<'t>>, Vec<(Str<'t>, &'a Entry<'t>)>) {
    let mut args = Vec::new();
    let mut props = Vec::new();
    for entry in node.entries() {
        match entry.key {
            Some((key, span)) => props.push((
                Str {
                    value: key,
                    at: span,
                },
                entry,
            )),
            None => args.push(entry),
        }
    }
    (args, props)
}

/// `a`, `b` and `c`.
fn list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => "nothing".into(),
    }
}
