//! Giving the raw tree its meaning: names, the `after` graph, globs, addresses, durations,
//! regexes and signals. Every mistake is collected; a [`Project`] is built only when there
//! are none.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use miette::{LabeledSpan, SourceSpan};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::NodeFiltered;
use regex::Regex;

use super::error::Mistake;
use super::suggest;
use super::syntax::{Lists, RawFile, RawNode, RawReady, RawReload, RawStop, Str};
use crate::model::{
    Command, Inputs, Node, NodeId, Project, Ready, Reload, Restart, Signal, SocketSpec, Stop, Text,
    parse_duration, parse_glob,
};

const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(10);
const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How many nodes of a cycle its diagnostic names before it says how many more there are.
const CYCLE_SHOWN: usize = 8;

/// Whether globset may refuse `glob`: only a class (`[`), an alternation (`{`, `}`) or an
/// escape (`\`) can be malformed (the pin: `globs_without_brackets_braces_or_escapes_parse`).
fn may_be_refused(glob: &str) -> bool {
    // By bytes: a `char` pattern decodes every character first (1,000 globs: 0.1 M
    // instructions). The four are ASCII, so no byte of another character is one of them.
    glob.bytes()
        .any(|b| matches!(b, b'[' | b'{' | b'}' | b'\\'))
}

/// `here` is the Hotfile's directory: the project root unless `root` names an ancestor.
pub(super) fn build(
    file: RawFile,
    hotfile: PathBuf,
    here: PathBuf,
    source: &Arc<String>,
    mistakes: &mut Vec<Mistake>,
) -> Option<Project> {
    let lists = &file.lists;
    let mut c = Checker {
        mistakes,
        source,
        lists,
        globs: HashMap::new(),
    };
    let root = match &file.root {
        Some(dir) => c.root(dir, &here).unwrap_or(here),
        None => here,
    };
    let ids = c.names(&file.nodes);
    let debounce = match &file.defaults.debounce {
        Some(text) => c.duration(text),
        None => Some(DEFAULT_DEBOUNCE),
    };
    // Checked once (each mistake reported once), then shared by every node that has no
    // `ignore` of its own: one list, not a copy per node.
    let default_ignore: Vec<Option<Text>> = lists[file.defaults.ignore]
        .iter()
        .map(|g| c.glob(g))
        .collect();
    let default_ignore: Option<Arc<[Text]>> = default_ignore.into_iter().collect();
    let default_env = c.env(&lists[file.defaults.env], "`defaults`");
    let edges = c.edges(&file.nodes, &ids);
    c.cycles(&file.nodes, &edges);
    c.idle_gates(&file.nodes, &edges);
    c.socket_clashes(&file.nodes);

    // Shared by every node that runs in it (most): not a copy of the path each.
    let shared_root: Arc<Path> = Arc::from(root.as_path());
    let nodes: Vec<Option<Node>> = file
        .nodes
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let mut node = c.node(raw, &edges[i], &shared_root, &default_ignore, &default_env)?;
            node.gates = edges.gates(i).iter().map(|&(i, _)| NodeId(i)).collect();
            Some(node)
        })
        .collect();
    if !c.mistakes.is_empty() {
        return None;
    }
    Some(Project {
        hotfile,
        root,
        nodes: nodes.into_iter().collect::<Option<Vec<_>>>()?,
        debounce: debounce?,
    })
}

mod gate;

/// Every node's edges in one list (a list per node was 500 allocations): its `after`, resolved,
/// then its gates (a gate is one more edge of the graph). `edges[i]` is node `i`'s.
struct Edges {
    list: Vec<(usize, SourceSpan)>,
    /// Per node, where its `after` starts, where its gates start and where they end.
    bounds: Vec<[usize; 3]>,
}

impl Edges {
    /// Node `i`'s `after`, without its gates.
    fn after(&self, i: usize) -> &[(usize, SourceSpan)] {
        let [start, gates, _] = self.bounds[i];
        &self.list[start..gates]
    }

    fn gates(&self, i: usize) -> &[(usize, SourceSpan)] {
        let [_, gates, end] = self.bounds[i];
        &self.list[gates..end]
    }
}

impl std::ops::Index<usize> for Edges {
    type Output = [(usize, SourceSpan)];

    fn index(&self, i: usize) -> &Self::Output {
        let [start, _, end] = self.bounds[i];
        &self.list[start..end]
    }
}

struct Checker<'m> {
    mistakes: &'m mut Vec<Mistake>,
    /// The Hotfile's text, which the model's strings are ranges of (`Text`).
    source: &'m Arc<String>,
    /// The raw nodes' lists.
    lists: &'m Lists<'m>,
    /// Each distinct glob text parsed once: 500 nodes write 1,500 globs, 81 of them distinct.
    globs: HashMap<String, Result<(), String>>,
}

impl Checker<'_> {
    /// `root "DIR"`: a directory holding the Hotfile (`here` or an ancestor of it), so what
    /// hot watches still holds the Hotfile and every path stays below the root.
    fn root(&mut self, dir: &Str, here: &Path) -> Option<PathBuf> {
        let mut fail = |message: String, help: &str| {
            self.mistakes.push(Mistake::BadValue {
                message,
                span: dir.span(),
                help: Some(help.to_owned()),
            });
            None
        };
        let wanted = here.join(dir.value);
        let (real, real_here) = match (std::fs::canonicalize(&wanted), std::fs::canonicalize(here))
        {
            (Ok(real), Ok(real_here)) => (real, real_here),
            (Err(e), _) | (_, Err(e)) => {
                let why = match e.kind() {
                    std::io::ErrorKind::NotFound => "does not exist".to_owned(),
                    _ => format!("cannot be read: {e}"),
                };
                return fail(
                    format!("`root` {:?} {why}", dir.value),
                    "`root` names the project's directory, relative to the Hotfile's: \
                     `root \"..\"`",
                );
            }
        };
        if !real.is_dir() {
            return fail(
                format!("`root` {:?} is not a directory", dir.value),
                "`root` names the project's directory, relative to the Hotfile's: `root \"..\"`",
            );
        }
        let Ok(below) = real_here.strip_prefix(&real) else {
            return fail(
                format!("`root` {:?} does not contain the Hotfile", dir.value),
                "the root is the Hotfile's directory or one above it, such as `root \"..\"`",
            );
        };
        // The Hotfile's directory as the user wrote it, `below` fewer levels up, when that is
        // the same directory (no symbolic link in the way): paths hot shows stay as typed.
        let mut lexical = here.to_path_buf();
        for _ in below.components() {
            lexical.pop();
        }
        Some(match std::fs::canonicalize(&lexical) {
            Ok(same) if same == real => lexical,
            _ => real,
        })
    }

    /// Index of every named node; reports duplicate names.
    fn names<'a>(&mut self, nodes: &'a [RawNode]) -> HashMap<&'a str, usize> {
        let mut ids: HashMap<&str, usize> = HashMap::with_capacity(nodes.len());
        for (i, node) in nodes.iter().enumerate() {
            let Some(name) = &node.name else { continue };
            if let Some(&first) = ids.get(name.value) {
                let first = nodes[first].name.as_ref().map_or(name.span(), |n| n.span());
                self.mistakes.push(Mistake::DuplicateName {
                    name: name.value.to_owned(),
                    first,
                    second: name.span(),
                });
            } else {
                ids.insert(name.value, i);
            }
        }
        ids
    }

    /// Every node's `after` and `gate` names resolved to indices (repeats dropped), with the
    /// span of each mention.
    fn edges(&mut self, nodes: &[RawNode], ids: &HashMap<&str, usize>) -> Edges {
        let mut edges = Edges {
            list: Vec::with_capacity(nodes.iter().map(|n| n.after.len()).sum()),
            bounds: Vec::with_capacity(nodes.len()),
        };
        for node in nodes {
            let start = edges.list.len();
            self.after(node, ids, &mut edges.list);
            let gates = self.gates(node, ids, &edges.list[start..]);
            let end = edges.list.len();
            edges.list.extend(gates);
            edges.bounds.push([start, end, edges.list.len()]);
        }
        edges
    }

    /// Resolves `after` names to indices (repeats dropped), with the span of each mention,
    /// onto the end of `out`.
    fn after(
        &mut self,
        node: &RawNode,
        ids: &HashMap<&str, usize>,
        out: &mut Vec<(usize, SourceSpan)>,
    ) {
        let start = out.len();
        // A node comes after a few others: a look back finds a repeat, a set only past many.
        let many = node.after.len() > 16;
        let mut seen = HashSet::new();
        for dep in &self.lists[node.after] {
            match ids.get(dep.value) {
                Some(&i)
                    if (many && seen.insert(i))
                        || (!many && !out[start..].iter().any(|o| o.0 == i)) =>
                {
                    out.push((i, dep.span()))
                }
                Some(_) => {}
                None => self.mistakes.push(Mistake::UnknownAfter {
                    name: dep.value.to_owned(),
                    span: dep.span(),
                    help: suggest(dep.value, ids.keys().copied())
                        .map(|best| format!("did you mean `{best}`?")),
                }),
            }
        }
    }

    /// Reports every cycle, one per strongly connected component, shortest first: each as
    /// one loop through it, with a label under each `after` entry that closes the loop. A long
    /// loop is cut after [`CYCLE_SHOWN`] nodes, so the diagnostic stays small whatever the
    /// graph; all of this is linear in the size of the graph.
    fn cycles(&mut self, nodes: &[RawNode], after: &Edges) {
        let mut graph: DiGraph<(), ()> = DiGraph::with_capacity(nodes.len(), after.list.len());
        for _ in nodes {
            graph.add_node(());
        }
        for i in 0..nodes.len() {
            for &(j, _) in &after[i] {
                graph.add_edge(NodeIndex::new(i), NodeIndex::new(j), ());
            }
        }
        // Most graphs have no cycle: a topological sort says so in two lists, where the
        // components are a list each (500 allocations for 500 nodes).
        if petgraph::algo::toposort(&graph, None).is_ok() {
            return;
        }
        let mut component = vec![usize::MAX; nodes.len()];
        let mut loops: Vec<Vec<usize>> = Vec::new();
        for (c, scc) in petgraph::algo::kosaraju_scc(&graph).into_iter().enumerate() {
            let Some(start) = scc.iter().map(|n| n.index()).min() else {
                continue;
            };
            for n in &scc {
                component[n.index()] = c;
            }
            let self_loop = after[start].iter().any(|(j, _)| *j == start);
            if scc.len() > 1 || self_loop {
                loops.push(shortest_loop(&graph, start, &component));
            }
        }

        let name = |i: usize| nodes[i].name.as_ref().map_or("?", |n| n.value);
        for path in loops {
            // `path` is closed (first == last): `len - 1` nodes in the loop.
            let nodes_in_loop = path.len() - 1;
            let edges = &path[..path.len().min(CYCLE_SHOWN + 1)];
            let labels = edges
                .windows(2)
                .filter_map(|pair| {
                    let (from, to) = (pair[0], pair[1]);
                    let span = after[from].iter().find(|(j, _)| *j == to)?.1;
                    Some(LabeledSpan::new_with_span(
                        Some(format!("`{}` is after `{}`", name(from), name(to))),
                        span,
                    ))
                })
                .collect();
            let text = if nodes_in_loop > CYCLE_SHOWN {
                let first: Vec<&str> = path[..CYCLE_SHOWN].iter().map(|&i| name(i)).collect();
                format!(
                    "{} -> … and {} more -> {}",
                    first.join(" -> "),
                    nodes_in_loop - CYCLE_SHOWN,
                    name(path[0])
                )
            } else {
                let all: Vec<&str> = path.iter().map(|&i| name(i)).collect();
                all.join(" -> ")
            };
            self.mistakes.push(Mistake::Cycle {
                path: text,
                length: nodes_in_loop,
                labels,
            });
        }
    }

    /// Two sockets (in any services) on one address cannot both be bound. Port 0 asks for
    /// an ephemeral port each time, so it never clashes.
    fn socket_clashes(&mut self, nodes: &[RawNode]) {
        let lists = self.lists;
        let mut bound: Vec<(SocketAddr, &str, SourceSpan)> = Vec::new();
        // Indices into `bound`, so a clash is found in constant time: by exact address, and
        // the first bound address per (port, is IPv4) for a wildcard that covers them.
        let mut exact: HashMap<SocketAddr, usize> = HashMap::new();
        let mut by_port: HashMap<(u16, bool), usize> = HashMap::new();
        for node in nodes {
            let owner = node.name.as_ref().map_or("?", |n| n.value);
            let reload = node.reload.iter().filter_map(|r| r.addr.as_ref());
            for addr in lists[node.sockets]
                .iter()
                .map(|(_, addr)| addr)
                .chain(reload)
            {
                let Ok(parsed) = addr.value.parse::<SocketAddr>() else {
                    continue;
                };
                if parsed.port() == 0 {
                    continue;
                }
                let port = parsed.port();
                let wild_v4 = SocketAddr::from(([0, 0, 0, 0], port));
                let wild_v6 = SocketAddr::from(([0u16; 8], port));
                let mut candidates = vec![exact.get(&wild_v6)];
                if parsed.is_ipv4() {
                    candidates.push(exact.get(&wild_v4));
                }
                if parsed.ip().is_unspecified() {
                    candidates.push(by_port.get(&(port, true)));
                    if parsed.is_ipv6() {
                        candidates.push(by_port.get(&(port, false)));
                    }
                }
                candidates.push(exact.get(&parsed));
                let clash = candidates
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|&i| overlaps(&bound[i].0, &parsed))
                    .min()
                    .map(|i| bound[i]);
                match clash {
                    Some((_, first_node, first)) => self.mistakes.push(Mistake::SocketInUse {
                        addr: parsed.to_string(),
                        first_node: first_node.into(),
                        first,
                        second: addr.span(),
                    }),
                    None => {
                        exact.insert(parsed, bound.len());
                        by_port
                            .entry((port, parsed.is_ipv4()))
                            .or_insert(bound.len());
                        bound.push((parsed, owner, addr.span()));
                    }
                }
            }
        }
    }

    fn node(
        &mut self,
        raw: &RawNode,
        after: &[(usize, SourceSpan)],
        root: &Arc<Path>,
        default_ignore: &Option<Arc<[Text]>>,
        default_env: &Option<Vec<(Text, Text)>>,
    ) -> Option<Node> {
        let run = self.run(raw);
        // Every glob is checked (each mistake reported), straight into the model's lists: no
        // list of `Option`s first.
        let mut globs_ok = true;
        let mut glob = |c: &mut Self, g: &Str| {
            let checked = c.glob(g);
            globs_ok &= checked.is_some();
            checked
        };
        let lists = self.lists;
        let watch: Vec<Text> = lists[raw.watch]
            .iter()
            .filter_map(|g| glob(self, g))
            .collect();
        let defaults = default_ignore.as_deref().unwrap_or_default();
        let ignore: Arc<[Text]> = match (raw.ignore.is_empty(), default_ignore) {
            (true, Some(defaults)) => defaults.clone(),
            _ => {
                let mut own: Vec<Text> = Vec::with_capacity(raw.ignore.len() + defaults.len());
                own.extend(lists[raw.ignore].iter().filter_map(|g| glob(self, g)));
                own.extend(defaults.iter().cloned());
                own.into()
            }
        };
        globs_ok &= default_ignore.is_some();
        let own_env = self.env(
            &lists[raw.env],
            match raw.kind {
                crate::model::Kind::Task => "`task`",
                crate::model::Kind::Service => "`service`",
            },
        );
        let dir = match &raw.dir {
            Some(dir) if dir.value.is_empty() => {
                self.mistakes.push(Mistake::BadValue {
                    message: "`dir` is empty".into(),
                    span: dir.span(),
                    help: Some("leave `dir` out to run in the Hotfile's directory".into()),
                });
                None
            }
            Some(dir) => Some(root.join(dir.value).into()),
            None => Some(root.clone()),
        };
        let sockets = self.sockets(raw);
        let locks = self.locks(raw);
        let (ready, ready_timeout) = match &raw.ready {
            Some(ready) => self.ready(ready),
            None => (Some(None), Some(DEFAULT_READY_TIMEOUT)),
        };
        let stop = match &raw.stop {
            Some(stop) => self.stop(stop),
            None => Some(Stop::default()),
        };
        let restart = match &raw.restart {
            Some(text) => self.restart(text),
            None => Some(Restart::default()),
        };
        let reload = match &raw.reload {
            Some(reload) => self.reload(reload, raw).map(Some),
            None => Some(None),
        };

        let inputs = globs_ok.then(|| Inputs::checked(watch, ignore))?;
        let default_env = default_env.as_ref()?;
        let own_env = own_env?;
        // The node's own list is the whole of it when `defaults` sets none (its keys are
        // distinct: a repeat is a mistake).
        let env = if default_env.is_empty() {
            own_env
        } else {
            let mut env = default_env.clone();
            for (key, value) in own_env {
                match env.iter_mut().find(|(k, _)| *k == key) {
                    Some(slot) => slot.1 = value,
                    None => env.push((key, value)),
                }
            }
            env
        };
        Some(Node {
            name: self.text(raw.name.as_ref()?.value),
            kind: raw.kind,
            run: run?,
            inputs,
            after: after.iter().map(|&(i, _)| NodeId(i)).collect(),
            gates: Vec::new(),
            env,
            dir: dir?,
            sockets: sockets?,
            ready: ready?,
            ready_timeout: ready_timeout?,
            stop: stop?,
            restart: restart?,
            locks: locks?,
            reload: reload?,
        })
    }

    /// `reload "ADDR" public="true"`: a fixed address, loopback unless `public="true"` (the
    /// stream carries build output), on a service with a socket (the page's origin, and where
    /// hot answers while nothing serves).
    fn reload(&mut self, raw: &RawReload, node: &RawNode) -> Option<Reload> {
        let public = match &raw.public {
            None => false,
            Some(flag) if flag.value == "true" => true,
            Some(flag) if flag.value == "false" => false,
            Some(flag) => {
                self.bad_value(
                    flag.span(),
                    &format!("`public` is `true` or `false`, not `{}`", flag.value),
                    Some("public=\"true\" serves the browser endpoint beyond this machine"),
                );
                return None;
            }
        };
        if node.sockets.is_empty() {
            self.bad_value(
                raw.keyword,
                "`reload` needs a `socket` in the same service",
                Some(
                    "the page is served from the service's socket: its origin is the one the \
                     event stream allows, and hot answers it while no instance serves",
                ),
            );
            return None;
        }
        let addr = raw.addr.as_ref()?;
        let parsed = match parse_addr(addr.value) {
            Ok(parsed) => parsed,
            Err(help) => {
                self.mistakes.push(Mistake::BadSocket {
                    addr: addr.value.to_owned(),
                    span: addr.span(),
                    help,
                });
                return None;
            }
        };
        if parsed.port() == 0 {
            self.bad_value(
                addr.span(),
                "`reload` needs a fixed port",
                Some("the page names this address in its script tag; LiveReload's port is 35729"),
            );
            return None;
        }
        if !parsed.ip().is_loopback() && !public {
            self.bad_value(
                addr.span(),
                &format!("`{parsed}` is not a loopback address"),
                Some(&format!(
                    "the endpoint streams build output to any page that asks; write \
                     `reload \"127.0.0.1:{port}\"`, or `reload \"{parsed}\" public=\"true\"` \
                     to serve it beyond this machine",
                    port = parsed.port()
                )),
            );
            return None;
        }
        Some(Reload {
            addr: parsed,
            public,
        })
    }

    fn restart(&mut self, text: &Str) -> Option<Restart> {
        let parsed = Restart::parse(text.value);
        if parsed.is_none() {
            let names = Restart::ALL.map(Restart::as_str);
            let help = match suggest(&text.value.to_ascii_lowercase(), names) {
                Some(best) => format!("did you mean `{best}`?"),
                None => "one of `always` (the default: restart after any exit, with \
                         backoff), `on-failure` (only after a non-zero status or a signal) or \
                         `never` (wait for the next change)"
                    .to_string(),
            };
            self.mistakes.push(Mistake::BadValue {
                message: format!("unknown restart policy `{}`", text.value),
                span: text.span(),
                help: Some(help),
            });
        }
        parsed
    }

    /// `lock "NAME"…`: names shown in messages, so printable and short; repeats collapse.
    fn locks(&mut self, raw: &RawNode) -> Option<Vec<Text>> {
        let mut out: Vec<Text> = Vec::new();
        let mut ok = true;
        for lock in &self.lists[raw.locks] {
            let text = lock.value;
            if text.trim().is_empty() || text.len() > 64 || text.chars().any(char::is_control) {
                self.bad_value(
                    lock.span(),
                    "a lock name must be 1 to 64 printable characters",
                    Some("nodes that name the same lock never run at the same time, e.g. `lock \"cargo\"`"),
                );
                ok = false;
            } else if !out.iter().any(|l| l == text) {
                out.push(self.text(text));
            }
        }
        ok.then_some(out)
    }

    fn run(&mut self, raw: &RawNode) -> Option<Command> {
        let Some(argv) = raw.run.map(|run| &self.lists[run]) else {
            self.mistakes.push(Mistake::MissingRun {
                kind: raw.kind.as_str(),
                name: raw
                    .name
                    .as_ref()
                    .map_or_else(String::new, |n| n.value.to_owned()),
                span: raw.name.as_ref().map_or(raw.keyword, |n| n.span()),
            });
            return None;
        };
        let mut ok = true;
        for arg in argv {
            if arg.value.contains('\0') {
                self.bad_value(arg.span(), "a command cannot contain a NUL character", None);
                ok = false;
            }
        }
        match argv {
            // An empty or misspelt `run` was reported while reading the tree.
            [] => None,
            [line] if line.value.trim().is_empty() => {
                self.bad_value(line.span(), "`run` is empty", None);
                None
            }
            [first, ..] if first.value.is_empty() => {
                self.bad_value(first.span(), "the program name is empty", None);
                None
            }
            _ if !ok => None,
            [line] => Some(Command::Shell(self.text(line.value))),
            _ => Some(Command::Argv(
                argv.iter().map(|a| self.text(a.value)).collect(),
            )),
        }
    }

    /// Validates one glob (as [`parse_glob`] reads it), each distinct text parsed once.
    fn glob(&mut self, glob: &Str<'_>) -> Option<Text> {
        let text = glob.value.strip_prefix("./").unwrap_or(glob.value);
        let bad = |reason: String, help: Option<String>| Mistake::BadGlob {
            glob: glob.value.to_owned(),
            reason,
            span: glob.span(),
            help,
        };
        if text.is_empty() {
            self.mistakes.push(bad("it is empty".into(), None));
            return None;
        }
        if text.starts_with('/') {
            self.mistakes.push(bad(
                "it is absolute".into(),
                Some("globs are relative to the Hotfile's directory".into()),
            ));
            return None;
        }
        // globset refuses only a class, an alternation or an escape gone wrong: a glob with
        // none of their characters is sound without being parsed (most are).
        let cached = may_be_refused(glob.value).then(|| self.globs.get(glob.value));
        let parsed = match cached {
            None => Ok(()),
            Some(Some(parsed)) => parsed.clone(),
            Some(None) => {
                let parsed = parse_glob(glob.value)
                    .map(drop)
                    .map_err(|e| e.kind().to_string());
                self.globs.insert(glob.value.to_owned(), parsed.clone());
                parsed
            }
        };
        match parsed {
            Ok(()) => Some(self.text(glob.value)),
            Err(reason) => {
                self.mistakes.push(bad(reason, None));
                None
            }
        }
    }

    /// Validates one block's `env` entries, reporting a key set twice.
    fn env(&mut self, entries: &[(Str, Str)], parent: &str) -> Option<Vec<(Text, Text)>> {
        let mut out: Vec<(Text, Text)> = Vec::with_capacity(entries.len());
        // A block sets a few variables: a map (and its hashing) costs more than a look back
        // over them, until there are many.
        let mut seen: HashMap<&str, SourceSpan> = HashMap::new();
        let many = entries.len() > 16;
        let mut ok = true;
        for (at, (key, value)) in entries.iter().enumerate() {
            // By bytes, as `may_be_refused` judges a glob.
            if key.value.is_empty() || key.value.bytes().any(|b| b == b'=' || b == 0) {
                self.bad_value(
                    key.span(),
                    "an environment variable name cannot be empty or contain `=` or NUL",
                    None,
                );
                ok = false;
            }
            if value.value.contains('\0') {
                self.bad_value(
                    value.span(),
                    "an environment value cannot contain NUL",
                    None,
                );
                ok = false;
            }
            let first = if many {
                seen.get(key.value).copied()
            } else {
                entries[..at]
                    .iter()
                    .find(|(k, _)| k.value == key.value)
                    .map(|(k, _)| k.span())
            };
            if let Some(first) = first {
                self.mistakes.push(Mistake::DuplicateKey {
                    key: key.value.to_owned(),
                    parent: parent.into(),
                    first,
                    second: key.span(),
                });
                ok = false;
                continue;
            }
            if many {
                seen.insert(key.value, key.span());
            }
            out.push((self.text(key.value), self.text(value.value)));
        }
        ok.then_some(out)
    }

    fn sockets(&mut self, raw: &RawNode) -> Option<Vec<SocketSpec>> {
        let service = raw.name.as_ref().map_or("", |n| n.value);
        let mut out: Vec<SocketSpec> = Vec::new();
        let mut names: HashMap<&str, &Str> = HashMap::new();
        let mut ok = true;
        for (name, addr) in &self.lists[raw.sockets] {
            // Names travel in LISTEN_FDNAMES, joined by `:`.
            if name.value.is_empty()
                || name.value.len() > 255
                || !name
                    .value
                    .bytes()
                    .all(|c| c.is_ascii_graphic() && c != b':')
            {
                self.bad_value(
                    name.span(),
                    "a socket name must be 1 to 255 printable ASCII characters without `:`",
                    Some("it is passed to the service in LISTEN_FDNAMES, joined by `:`"),
                );
                ok = false;
            }
            if let Some(first) = names.get(name.value) {
                self.mistakes.push(Mistake::DuplicateSocket {
                    name: name.value.to_owned(),
                    service: service.into(),
                    first: first.span(),
                    second: name.span(),
                });
                ok = false;
            } else {
                names.insert(name.value, name);
            }
            match parse_addr(addr.value) {
                Ok(parsed) => out.push(SocketSpec {
                    name: name.value.to_owned(),
                    addr: parsed,
                }),
                Err(help) => {
                    self.mistakes.push(Mistake::BadSocket {
                        addr: addr.value.to_owned(),
                        span: addr.span(),
                        help,
                    });
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// `Some(ready)` and `Some(timeout)` when valid.
    fn ready(&mut self, raw: &RawReady) -> (Option<Option<Ready>>, Option<Duration>) {
        let mut modes: Vec<(SourceSpan, Option<Ready>)> = Vec::new();
        for arg in &raw.args {
            if arg.value == "notify" {
                modes.push((arg.span(), Some(Ready::Notify)));
            } else {
                let hint = suggest(arg.value, ["notify"])
                    .map_or(String::new(), |best| format!(" (did you mean `{best}`?)"));
                self.mistakes.push(Mistake::BadReady {
                    message: format!("unknown `ready` mode `{}`{hint}", arg.value),
                    span: arg.span(),
                });
                return (None, None);
            }
        }
        if let Some(delay) = &raw.delay {
            modes.push((delay.span(), self.duration(delay).map(Ready::Delay)));
        }
        if let Some(log) = &raw.log {
            let regex = match Regex::new(log.value) {
                Ok(regex) => Some(Ready::Log(regex)),
                Err(e) => {
                    self.mistakes.push(Mistake::BadRegex {
                        span: log.span(),
                        reason: e.to_string(),
                    });
                    None
                }
            };
            modes.push((log.span(), regex));
        }
        let timeout = match &raw.timeout {
            Some(timeout) => self.duration(timeout),
            None => Some(DEFAULT_READY_TIMEOUT),
        };
        let ready = match modes.as_slice() {
            [] => {
                self.mistakes.push(Mistake::BadReady {
                    message: "`ready` needs a way to tell that the service is ready".into(),
                    span: raw.keyword,
                });
                None
            }
            [(_, mode)] => mode.clone().map(Some),
            [_, (second, _), ..] => {
                self.mistakes.push(Mistake::BadReady {
                    message: "`ready` takes only one of `delay`, `log` and \"notify\"".into(),
                    span: *second,
                });
                None
            }
        };
        (ready, timeout)
    }

    fn stop(&mut self, raw: &RawStop) -> Option<Stop> {
        let default = Stop::default();
        let signal = match &raw.signal {
            Some(text) => match Signal::parse(text.value) {
                Some(signal) => Some(signal),
                None => {
                    let names = Signal::ALL.map(Signal::name);
                    let help = match suggest(&text.value.to_ascii_uppercase(), names) {
                        Some(best) => format!("did you mean `{best}`?"),
                        None => format!("one of {}", names.join(", ")),
                    };
                    self.mistakes.push(Mistake::BadSignal {
                        text: text.value.to_owned(),
                        span: text.span(),
                        help,
                    });
                    None
                }
            },
            None => Some(default.signal),
        };
        let timeout = match &raw.timeout {
            Some(text) => self.duration(text),
            None => Some(default.timeout),
        };
        Some(Stop {
            signal: signal?,
            timeout: timeout?,
        })
    }

    fn duration(&mut self, text: &Str) -> Option<Duration> {
        let parsed = parse_duration(text.value);
        match parsed {
            None => self.mistakes.push(Mistake::BadDuration {
                text: text.value.to_owned(),
                span: text.span(),
            }),
            Some(d) if d > super::MAX_DURATION => {
                self.mistakes.push(Mistake::DurationTooLong {
                    text: text.value.to_owned(),
                    span: text.span(),
                });
                return None;
            }
            Some(_) => {}
        }
        parsed
    }

    /// A string of the model: a range of the Hotfile's text where the reader borrowed it.
    fn text(&self, value: &str) -> Text {
        Text::within(self.source, value)
    }

    fn bad_value(&mut self, span: SourceSpan, message: &str, help: Option<&str>) {
        self.mistakes.push(Mistake::BadValue {
            message: message.into(),
            span,
            help: help.map(Into::into),
        });
    }
}

/// `HOST:PORT` with an IP address; the error is the help to show.
///
/// Host names (even `localhost`) are refused rather than resolved: `localhost` may mean
/// 127.0.0.1 or ::1, and a server reached by one but not the other is a confusing failure.
fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let (host, port) = text.rsplit_once(':').unwrap_or((text, ""));
    if port.is_empty() || port.parse::<u16>().is_err() {
        return Err(format!(
            "write HOST:PORT with a port from 0 to 65535, e.g. \"127.0.0.1:{}\"",
            if port.is_empty() { "3000" } else { "8080" }
        ));
    }
    if host.eq_ignore_ascii_case("localhost") {
        return Err(format!(
            "hot binds an IP address, not a host name: write \"127.0.0.1:{port}\" (or \"[::1]:{port}\" for IPv6)"
        ));
    }
    if host.contains(':') && !host.starts_with('[') {
        return Err(format!(
            "put an IPv6 address in brackets: \"[{host}]:{port}\""
        ));
    }
    Err(format!(
        "the host must be an IPv4 address or a bracketed IPv6 address, e.g. \"127.0.0.1:{port}\""
    ))
}

/// Whether binding both addresses would fail: the same address, or a wildcard covering the
/// other (`[::]` covers IPv4 too on a dual-stack system).
fn overlaps(a: &SocketAddr, b: &SocketAddr) -> bool {
    let covers = |wild: &SocketAddr, other: &SocketAddr| {
        wild.ip().is_unspecified() && (wild.is_ipv6() || other.is_ipv4())
    };
    a.port() == b.port() && (a.ip() == b.ip() || covers(a, b) || covers(b, a))
}

/// The shortest `after` path from `start` back to itself within its strongly connected
/// component, as node indices (first == last). A search from `start` for a node with an edge
/// back to it (petgraph's A* with unit costs, a breadth-first search): linear in the
/// component's size.
fn shortest_loop(graph: &DiGraph<(), ()>, start: usize, component: &[usize]) -> Vec<usize> {
    let start = NodeIndex::new(start);
    let inside = NodeFiltered::from_fn(graph, |n: NodeIndex| {
        component[n.index()] == component[start.index()]
    });
    let back: HashSet<NodeIndex> = graph
        .neighbors_directed(start, petgraph::Direction::Incoming)
        .collect();
    let found = petgraph::algo::astar(&inside, start, |n| back.contains(&n), |_| 1usize, |_| 0);
    let mut path: Vec<usize> = found.map_or_else(Vec::new, |(_, path)| {
        path.into_iter().map(NodeIndex::index).collect()
    });
    if path.is_empty() {
        path.push(start.index());
    }
    path.push(start.index());
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The glob check skips globset for globs `may_be_refused` clears: should globset ever
    /// refuse one of them, this fails.
    #[test]
    fn globs_without_brackets_braces_or_escapes_parse() {
        let globs = [
            "**",
            "a**b",
            "**/",
            "/**",
            "***",
            "a/**/**/b",
            "*,*",
            ",",
            "]",
            "a]b",
            "?",
            "??*",
            "x/**",
            "**x",
            "-",
            ".",
            "..",
            "a b",
            "é/*.rs",
            "!x",
            "a,**,b",
        ];
        for glob in globs {
            assert!(!may_be_refused(glob), "{glob}");
            assert!(parse_glob(glob).is_ok(), "{glob} is refused by globset");
        }
        for glob in ["[", "{a", "a}", "\\"] {
            assert!(may_be_refused(glob), "{glob}");
            assert!(parse_glob(glob).is_err(), "{glob}");
        }
    }
}
