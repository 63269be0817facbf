//! The DAG of nodes and `after` edges, and the questions asked of it: in which order, which
//! nodes may run side by side, and which nodes a set of changed paths makes stale.
//!
//! `hotfile` has already rejected cycles, so building a [`Graph`] cannot fail. Graph node
//! index `i` is always [`NodeId`]`(i)`: nodes are added in declaration order.

use std::collections::{BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::Path;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Bfs, Reversed, Walker};

use crate::model::{Kind, NodeId, Project};

mod json;

/// Nodes and their `after` edges, pointing from a dependency to its dependent.
#[derive(Debug, Clone)]
pub struct Graph {
    dag: DiGraph<(), ()>,
    order: Vec<NodeId>,
    levels: Vec<Vec<NodeId>>,
}

fn index(id: NodeId) -> NodeIndex {
    NodeIndex::new(id.0)
}

fn id(index: NodeIndex) -> NodeId {
    NodeId(index.index())
}

impl Graph {
    /// Builds the graph of a validated (acyclic) project.
    pub fn new(project: &Project) -> Graph {
        let mut dag = DiGraph::with_capacity(project.nodes.len(), project.nodes.len());
        for _ in &project.nodes {
            dag.add_node(());
        }
        for (dependent, node) in project.nodes.iter().enumerate() {
            for dependency in &node.after {
                dag.add_edge(index(*dependency), NodeIndex::new(dependent), ());
            }
        }
        let topological = petgraph::algo::toposort(&dag, None)
            .expect("hotfile rejects cycles before a Graph is built");
        // A node's level is the length of the longest chain of dependencies below it: nodes of
        // one level never depend on each other, so they may run side by side.
        let mut level = vec![0usize; project.nodes.len()];
        for node in topological.into_iter().map(id) {
            for dependency in &project.node(node).after {
                level[node.0] = level[node.0].max(level[dependency.0] + 1);
            }
        }
        let depth = level.iter().max().map_or(0, |max| max + 1);
        let mut levels = vec![Vec::new(); depth];
        for node in project.ids() {
            levels[level[node.0]].push(node);
        }
        // Level by level, in declaration order within a level: a topological order that reads
        // like the Hotfile.
        let order = levels.concat();
        Graph { dag, order, levels }
    }

    /// Every node, dependencies before dependents.
    pub fn order(&self) -> &[NodeId] {
        &self.order
    }

    /// Nodes grouped so that each group depends only on earlier groups.
    pub fn levels(&self) -> &[Vec<NodeId>] {
        &self.levels
    }

    /// The direct dependents of `node` (the nodes that come `after` it).
    pub fn dependents(&self, node: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        self.dag
            .neighbors_directed(index(node), Direction::Outgoing)
            .map(id)
    }

    /// `roots` and everything they depend on, transitively.
    pub fn with_dependencies(&self, roots: impl IntoIterator<Item = NodeId>) -> BTreeSet<NodeId> {
        let reversed = Reversed(&self.dag);
        let mut found = BTreeSet::new();
        for root in roots {
            found.extend(Bfs::new(reversed, index(root)).iter(reversed).map(id));
        }
        found
    }

    /// `roots` and everything that depends on them, transitively.
    pub fn with_dependents(&self, roots: impl IntoIterator<Item = NodeId>) -> BTreeSet<NodeId> {
        let mut found = BTreeSet::new();
        for root in roots {
            found.extend(Bfs::new(&self.dag, index(root)).iter(&self.dag).map(id));
        }
        found
    }

    /// The nodes whose own inputs match one of `paths` (relative to the project root).
    pub fn matching<'a>(
        &self,
        project: &'a Project,
        paths: &'a [impl AsRef<Path>],
    ) -> impl Iterator<Item = NodeId> + 'a {
        project.ids().filter(move |node| {
            let inputs = &project.node(*node).inputs;
            paths.iter().any(|path| inputs.matches(path.as_ref()))
        })
    }

    /// The nodes a change to `paths` makes stale: those whose inputs match, and everything
    /// downstream of them.
    pub fn stale(&self, project: &Project, paths: &[impl AsRef<Path>]) -> BTreeSet<NodeId> {
        self.with_dependents(self.matching(project, paths))
    }
}

/// What `node` comes `after` in its own words: its upstreams less its gates (early start).
fn own_after(node: &crate::model::Node) -> impl Iterator<Item = NodeId> + '_ {
    node.after
        .iter()
        .copied()
        .filter(|d| !node.gates.contains(d))
}

/// Output formats of `hot graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Dot,
    Mermaid,
    Json,
}

/// Renders the graph for `hot graph`.
pub fn render(project: &Project, graph: &Graph, format: Format) -> String {
    match format {
        Format::Text => render_text(project, graph),
        Format::Dot => render_dot(project),
        Format::Mermaid => render_mermaid(project),
        Format::Json => json::render(project, graph),
    }
}

/// How deep the text tree nests. A deeper node is named with `(continued below)` and shown as a
/// tree of its own after the current one, so an indent never grows past this many levels and
/// the output stays linear in the graph's size (a 10,000-node chain, nested one level per
/// node, printed 400 MB).
const MAX_NESTING: usize = 8;

/// A tree per node without dependencies, in declaration order, with dependents as children.
/// A node with several dependencies is shown in full under the first and named again with
/// `(see above)` under the others; past [`MAX_NESTING`] levels a subtree continues below as a
/// tree of its own, headed by its `after:` line.
fn render_text(project: &Project, graph: &Graph) -> String {
    let mut text = Text {
        project,
        graph,
        shown: BTreeSet::new(),
        queued: BTreeSet::new(),
        later: VecDeque::new(),
        out: String::new(),
    };
    for root in project.ids() {
        if project.node(root).after.is_empty() {
            text.node(root, "", "", 0);
            while let Some(next) = text.later.pop_front() {
                if !text.shown.contains(&next) {
                    text.node(next, "", "", 0);
                }
            }
        }
    }
    text.out
}

struct Text<'a> {
    project: &'a Project,
    graph: &'a Graph,
    /// Nodes shown in full.
    shown: BTreeSet<NodeId>,
    /// Nodes cut at the nesting limit, shown later as trees of their own.
    queued: BTreeSet<NodeId>,
    later: VecDeque<NodeId>,
    out: String,
}

impl Text<'_> {
    fn node(&mut self, node: NodeId, lead: &str, indent: &str, depth: usize) {
        let project = self.project;
        let n = project.node(node);
        let _ = write!(self.out, "{lead}{} ({})", n.name, n.kind.as_str());
        if self.shown.contains(&node) {
            self.out.push_str(" (see above)\n");
            return;
        }
        if depth > MAX_NESTING {
            if self.queued.insert(node) {
                self.later.push_back(node);
                self.out.push_str(" (continued below)\n");
            } else {
                self.out.push_str(" (see below)\n");
            }
            return;
        }
        self.shown.insert(node);
        self.out.push('\n');
        let mut details = Vec::new();
        // A tree's top names what it comes after when it continues one cut above.
        if n.after.len() > 1 || (depth == 0 && !n.after.is_empty()) {
            let after: Vec<&str> = own_after(n)
                .map(|d| project.node(d).name.as_str())
                .collect();
            if !after.is_empty() {
                details.push(format!("after: {}", after.join(" ")));
            }
        }
        if !n.gates.is_empty() {
            let gates: Vec<&str> = n
                .gates
                .iter()
                .map(|d| project.node(*d).name.as_str())
                .collect();
            details.push(format!("gate (early start): {}", gates.join(" ")));
        }
        if !n.inputs.watch.is_empty() {
            details.push(format!("watch: {}", n.inputs.watch.join(" ")));
        }
        for socket in &n.sockets {
            details.push(format!("socket: {} {}", socket.name, socket.addr));
        }
        details.push(format!("run: {}", n.run));
        let mut dependents: Vec<NodeId> = self.graph.dependents(node).collect();
        dependents.sort();
        for detail in details {
            let bar = if dependents.is_empty() { " " } else { "│" };
            let _ = writeln!(self.out, "{indent}{bar}   {detail}");
        }
        for (i, child) in dependents.iter().enumerate() {
            let last = i + 1 == dependents.len();
            let (lead, more) = if last {
                ("└── ", "    ")
            } else {
                ("├── ", "│   ")
            };
            self.node(
                *child,
                &format!("{indent}{lead}"),
                &format!("{indent}{more}"),
                depth + 1,
            );
        }
    }
}

fn render_dot(project: &Project) -> String {
    let mut out = String::from("digraph hot {\n    rankdir=LR;\n");
    for node in &project.nodes {
        let shape = match node.kind {
            Kind::Task => "box",
            Kind::Service => "ellipse",
        };
        let _ = writeln!(
            out,
            "    {} [shape={shape}, label={}];",
            dot_id(&node.name),
            dot_id(&format!("{}\n{}", node.name, node.kind.as_str()))
        );
    }
    for node in &project.nodes {
        for dependency in &node.after {
            // A gate holds back the service's connections, not its start: drawn dashed.
            let style = if node.gates.contains(dependency) {
                " [style=dashed, label=\"gate\"]"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "    {} -> {}{style};",
                dot_id(&project.node(*dependency).name),
                dot_id(&node.name)
            );
        }
    }
    out.push_str("}\n");
    out
}

/// A quoted DOT identifier: any name is valid once quoted and escaped.
fn dot_id(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("\"{escaped}\"")
}

fn render_mermaid(project: &Project) -> String {
    let mut out = String::from("flowchart LR\n");
    for (i, node) in project.nodes.iter().enumerate() {
        // Mermaid ids must be plain words, so nodes are n0, n1, ... with the name as label.
        let label = node.name.replace('"', "#quot;");
        let (open, close) = match node.kind {
            Kind::Task => ("[\"", "\"]"),
            Kind::Service => ("([\"", "\"])"),
        };
        let _ = writeln!(out, "    n{i}{open}{label}{close}");
    }
    for (i, node) in project.nodes.iter().enumerate() {
        for dependency in &node.after {
            let arrow = if node.gates.contains(dependency) {
                "-. gate .->"
            } else {
                "-->"
            };
            let _ = writeln!(out, "    n{} {arrow} n{i}", dependency.0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testing::project;

    fn names(project: &Project, ids: impl IntoIterator<Item = NodeId>) -> Vec<String> {
        ids.into_iter()
            .map(|n| project.node(n).name.to_string())
            .collect()
    }

    /// `nodes`: (name, watch globs, after).
    #[track_caller]
    fn check_stale(nodes: &[(&str, &[&str], &[&str])], changed: &[&str], expected: &[&str]) {
        let project = project(nodes);
        let graph = Graph::new(&project);
        let stale = graph.stale(&project, changed);
        assert_eq!(names(&project, stale), expected);
    }

    const WEB: &[(&str, &[&str], &[&str])] = &[
        ("clippy", &["src/**/*.rs", "Cargo.toml"], &[]),
        ("test", &["src/**/*.rs", "tests/**/*.rs"], &["clippy"]),
        ("build", &["src/**/*.rs", "Cargo.toml"], &[]),
        ("serve", &["templates/**"], &["test", "build"]),
    ];

    #[test]
    fn stale_sets() {
        check_stale(WEB, &["src/main.rs"], &["clippy", "test", "build", "serve"]);
        check_stale(
            WEB,
            &["src/a/b/c.rs"],
            &["clippy", "test", "build", "serve"],
        );
        check_stale(WEB, &["tests/api.rs"], &["test", "serve"]);
        check_stale(WEB, &["templates/index.html"], &["serve"]);
        check_stale(WEB, &["Cargo.toml"], &["clippy", "test", "build", "serve"]);
        check_stale(WEB, &["README.md"], &[]);
        check_stale(WEB, &[], &[]);
        check_stale(WEB, &["README.md", "tests/x.rs"], &["test", "serve"]);
    }

    #[test]
    fn star_does_not_cross_directories() {
        let nodes: &[(&str, &[&str], &[&str])] = &[("a", &["src/*.rs"], &[])];
        check_stale(nodes, &["src/a/b.rs"], &[]);
        check_stale(nodes, &["src/b.rs"], &["a"]);
    }

    #[test]
    fn order_and_levels() {
        let project = project(WEB);
        let graph = Graph::new(&project);
        let position = |name: &str| {
            let id = project.find(name).unwrap();
            graph.order().iter().position(|n| *n == id).unwrap()
        };
        assert!(position("clippy") < position("test"));
        assert!(position("test") < position("serve"));
        assert!(position("build") < position("serve"));
        let levels: Vec<Vec<String>> = graph
            .levels()
            .iter()
            .map(|l| names(&project, l.iter().copied()))
            .collect();
        assert_eq!(
            levels,
            vec![vec!["clippy", "build"], vec!["test"], vec!["serve"]]
        );
    }

    #[test]
    fn closures() {
        let project = project(WEB);
        let graph = Graph::new(&project);
        let test = project.find("test").unwrap();
        assert_eq!(
            names(&project, graph.with_dependencies([test])),
            ["clippy", "test"]
        );
        let clippy = project.find("clippy").unwrap();
        assert_eq!(
            names(&project, graph.with_dependents([clippy])),
            ["clippy", "test", "serve"]
        );
    }

    #[test]
    fn renders() {
        let project = project(WEB);
        let graph = Graph::new(&project);
        insta::assert_snapshot!("text", render(&project, &graph, Format::Text));
        insta::assert_snapshot!("dot", render(&project, &graph, Format::Dot));
        insta::assert_snapshot!("mermaid", render(&project, &graph, Format::Mermaid));
        insta::assert_snapshot!("json", render(&project, &graph, Format::Json));
    }

    /// `hot graph` drew a `gate` (early start) as a plain `after` edge, so the graph did not
    /// show which upstreams hold back only the service's connections.
    #[test]
    fn graph_draws_gate_edges_as_after_edges() {
        let text = r#"
task "build" { run "cargo build"; }
task "test" { run "cargo test"; }
service "web" {
    after "build"
    gate "test"
    socket "http" "127.0.0.1:3000"
    run "./web"
    ready delay="1s"
}
"#;
        let project = crate::hotfile::parse(Path::new("/p/Hotfile"), text).expect("sound");
        let graph = Graph::new(&project);
        let dot = render(&project, &graph, Format::Dot);
        assert!(dot.contains("\"build\" -> \"web\";\n"), "{dot}");
        assert!(
            dot.contains("\"test\" -> \"web\" [style=dashed, label=\"gate\"];\n"),
            "{dot}"
        );
        let mermaid = render(&project, &graph, Format::Mermaid);
        assert!(mermaid.contains("    n0 --> n2\n"), "{mermaid}");
        assert!(mermaid.contains("    n1 -. gate .-> n2\n"), "{mermaid}");
        let json: serde_json::Value =
            serde_json::from_str(&render(&project, &graph, Format::Json)).expect("JSON");
        assert_eq!(json["nodes"][2]["after"], serde_json::json!(["build"]));
        assert_eq!(json["nodes"][2]["gates"], serde_json::json!(["test"]));
        let tree = render(&project, &graph, Format::Text);
        let web: Vec<&str> = tree
            .lines()
            .skip_while(|l| !l.ends_with("web (service)"))
            .map(str::trim)
            .collect();
        assert_eq!(
            web.get(1..3),
            Some(&["after: build", "gate (early start): test"][..]),
            "{tree}"
        );
    }

    /// A chain of `n` nodes, each after the one before.
    fn chain(n: usize) -> Project {
        let names: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
        let afters: Vec<Vec<&str>> = (0..n)
            .map(|i| {
                if i == 0 {
                    vec![]
                } else {
                    vec![names[i - 1].as_str()]
                }
            })
            .collect();
        let nodes: Vec<(&str, &[&str], &[&str])> = (0..n)
            .map(|i| (names[i].as_str(), &[][..], afters[i].as_slice()))
            .collect();
        project(&nodes)
    }

    /// The text tree indented one level per node of a chain: 10,000 nodes printed 400 MB and
    /// 20,000 failed to allocate. Every format is now linear in the graph's size.
    #[test]
    fn graph_of_a_long_chain_is_quadratic() {
        let n = 2_000;
        let project = chain(n);
        let graph = Graph::new(&project);
        for format in [Format::Text, Format::Dot, Format::Mermaid, Format::Json] {
            let out = render(&project, &graph, format);
            assert!(
                out.len() < n * 400,
                "{format:?}: {} bytes for {n} nodes",
                out.len()
            );
        }
        let text = render(&project, &graph, Format::Text);
        // Each node in full once, and the indent bounded.
        assert_eq!(text.matches("   run: echo t").count(), n);
        let widest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        assert!(
            widest <= 4 * (MAX_NESTING + 1) + 40,
            "a line of {widest} characters"
        );
        assert!(
            text.contains("t9 (task) (continued below)\n"),
            "{}",
            &text[..2000]
        );
        assert!(
            text.contains("\nt9 (task)\n│   after: t8\n"),
            "{}",
            &text[..2000]
        );
        // How a cut reads, pinned on a chain just past the limit.
        let short = chain(MAX_NESTING + 3);
        let shown = render(&short, &Graph::new(&short), Format::Text);
        insta::assert_snapshot!("text_past_the_nesting_limit", shown);
    }

    #[test]
    fn a_cut_node_reached_twice_is_shown_once() {
        let names: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
        let mut nodes: Vec<(&str, &[&str], Vec<&str>)> = (0..10)
            .map(|i| {
                (
                    names[i].as_str(),
                    &[][..],
                    if i == 0 {
                        vec![]
                    } else {
                        vec![names[i - 1].as_str()]
                    },
                )
            })
            .collect();
        nodes.push(("z", &[], vec!["t8", "t9"]));
        let nodes: Vec<(&str, &[&str], &[&str])> = nodes
            .iter()
            .map(|(n, w, a)| (*n, *w, a.as_slice()))
            .collect();
        let project = project(&nodes);
        let text = render(&project, &Graph::new(&project), Format::Text);
        assert_eq!(text.matches("run: echo z").count(), 1, "{text}");
        assert!(text.contains("└── z (task) (continued below)\n"), "{text}");
        assert!(
            text.contains("\nt9 (task)\n│   after: t8\n│   run: echo t9\n└── z (task)\n"),
            "{text}"
        );
    }
}
