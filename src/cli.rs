//! The command line: parses arguments, loads the Hotfile, and hands each command to the module
//! that does it. No policy lives here.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::driver::{self, Plan};
use crate::engine::Mode;
use crate::graph::{self, Graph};
use crate::hotfile;
use crate::model::{Kind, Project, parse_duration};
use crate::report::{self, Reporter};

/// Exit statuses, as the contract gives them.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const SIGHUP: u8 = 129;
    pub const SIGINT: u8 = 130;
    pub const SIGTERM: u8 = 143;
}

#[derive(Debug, Parser)]
#[command(
    name = "hot",
    version,
    about = "A declarative dev loop: check, test and restart your server on every change, \
             handing it a socket that never refuses a connection",
    after_help = "With no command, hot runs every node once, then watches (like `hot watch`)."
)]
struct Cli {
    /// The Hotfile to use (default: `Hotfile` here or in the nearest parent directory).
    #[arg(short, long, global = true, value_name = "PATH")]
    file: Option<PathBuf>,

    /// Print one JSON event per line on stdout instead of status lines.
    #[arg(long, global = true)]
    json: bool,

    /// How many tasks may run at once (default: the number of CPUs).
    #[arg(short, long, global = true, value_name = "N")]
    jobs: Option<usize>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the named nodes (default: all) and what they depend on, then rerun what each change
    /// affects.
    Watch {
        /// Nodes to watch; their dependencies come along.
        names: Vec<String>,
        #[command(flatten)]
        watch: WatchArgs,
    },
    /// Run the named nodes and their dependencies once; a service then stays in the
    /// foreground until Ctrl-C.
    Run {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Print the graph.
    Graph {
        #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
        format: GraphFormat,
    },
    /// Validate the Hotfile: exit 0 when it is sound, 2 with diagnostics when not.
    Check,
    /// Run every task once in dependency order, no services; exit 1 if any failed.
    Ci {
        /// Print the plan (order, commands, working directories) and run nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print which nodes a change to each PATH would rerun.
    Why {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

#[derive(Debug, Default, clap::Args)]
struct WatchArgs {
    /// Quiet period that closes a burst of changes into one wave (overrides the Hotfile's
    /// `debounce`), e.g. `30ms`.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    debounce: Option<Duration>,

    /// Poll the file system instead of using native events (NFS, WSL's /mnt, Docker bind
    /// mounts), every INTERVAL (default 500ms).
    #[arg(long, value_name = "INTERVAL", num_args = 0..=1, default_missing_value = "500ms", value_parser = duration)]
    poll: Option<Duration>,

    /// Print plain lines instead of the live status view (the view is drawn only on a
    /// terminal anyway, never when output is piped, with `--json` or under `TERM=dumb`).
    #[arg(long)]
    no_status: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum GraphFormat {
    Text,
    Dot,
    Mermaid,
    Json,
}

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text).ok_or_else(|| format!("`{text}` is not a duration (e.g. `30ms`, `2s`)"))
}

/// The `hot` binary's entry point.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    #[cfg(unix)]
    if args.get(1).is_some_and(|a| a == crate::shim::ARG) {
        crate::shim::main(&args[2..]);
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    ExitCode::from(run(cli))
}

fn run(cli: Cli) -> u8 {
    let reporter = Reporter::new(cli.json, report::ColorChoice::Auto);
    let Some(path) = cli.file.clone().or_else(|| {
        std::env::current_dir()
            .ok()
            .and_then(|dir| hotfile::find(&dir))
    }) else {
        reporter.error(
            "no `Hotfile` here or in any parent directory; create one (see Hotfile.example) or name one with `-f`",
        );
        return exit::USAGE;
    };
    let project = match hotfile::load(&path) {
        Ok(project) => Arc::new(project),
        Err(diagnostics) => {
            reporter.diagnostic(&diagnostics);
            return exit::USAGE;
        }
    };
    let jobs = cli
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from))
        .max(1);
    let command = cli.command.unwrap_or(Command::Watch {
        names: Vec::new(),
        watch: WatchArgs::default(),
    });
    match command {
        Command::Check => {
            let tasks = project
                .nodes
                .iter()
                .filter(|n| n.kind == Kind::Task)
                .count();
            let services = project.nodes.len() - tasks;
            reporter.note(&format!(
                "{} is sound: {tasks} task{}, {services} service{}",
                hotfile::display_name(&project.hotfile),
                plural(tasks),
                plural(services)
            ));
            exit::OK
        }
        Command::Graph { format } => {
            let format = match format {
                GraphFormat::Text => graph::Format::Text,
                GraphFormat::Dot => graph::Format::Dot,
                GraphFormat::Mermaid => graph::Format::Mermaid,
                GraphFormat::Json => graph::Format::Json,
            };
            let text = graph::render(&project, &Graph::new(&project), format);
            print(&text)
        }
        Command::Why { paths } => why(&project, &paths),
        Command::Ci { dry_run: true } => print(&dry_run(&project)),
        Command::Ci { dry_run: false } => driver::run(
            project,
            reporter,
            Plan {
                mode: Mode::Once,
                targets: None,
                services: false,
                jobs,
                watch: None,
                summary: true,
                status: false,
            },
        ),
        Command::Run { names } => {
            if let Err(code) = known(&project, &names, &reporter) {
                return code;
            }
            driver::run(
                project,
                reporter,
                Plan {
                    mode: Mode::Once,
                    targets: Some(names),
                    services: true,
                    jobs,
                    watch: None,
                    summary: false,
                    status: false,
                },
            )
        }
        Command::Watch { names, watch } => {
            if let Err(code) = known(&project, &names, &reporter) {
                return code;
            }
            let debounce = watch.debounce.unwrap_or(project.debounce);
            driver::run(
                project,
                reporter,
                Plan {
                    mode: Mode::Watch,
                    targets: (!names.is_empty()).then_some(names),
                    services: true,
                    jobs,
                    watch: Some(driver::WatchPlan {
                        debounce,
                        poll: watch.poll,
                    }),
                    summary: false,
                    status: !watch.no_status,
                },
            )
        }
    }
}

/// Rejects node names the Hotfile does not declare, suggesting the closest.
fn known(project: &Project, names: &[String], reporter: &Reporter) -> Result<(), u8> {
    for name in names {
        if project.find(name).is_none() {
            let names = project.nodes.iter().map(|n| n.name.as_str());
            let hint = match hotfile::suggest(name, names) {
                Some(near) => format!("; did you mean `{near}`?"),
                None => {
                    let all: Vec<&str> = project.nodes.iter().map(|n| n.name.as_str()).collect();
                    format!("; the nodes are: {}", all.join(", "))
                }
            };
            reporter.error(&format!(
                "no node named `{name}` in {}{hint}",
                hotfile::display_name(&project.hotfile)
            ));
            return Err(exit::USAGE);
        }
    }
    Ok(())
}

/// `hot why PATH...`: the nodes a change would rerun, direct matches first.
fn why(project: &Project, paths: &[PathBuf]) -> u8 {
    let graph = Graph::new(project);
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut out = String::new();
    for path in paths {
        let absolute = if path.is_absolute() {
            path.clone()
        } else {
            cwd.join(path)
        };
        let Some(relative) = relative_to(&absolute, &project.root) else {
            out.push_str(&format!(
                "{}: outside the project ({}): nothing reruns\n",
                path.display(),
                project.root.display()
            ));
            continue;
        };
        let direct: Vec<_> = graph.matching(project, &[&relative]).collect();
        let stale = graph.stale(project, &[&relative]);
        if stale.is_empty() {
            out.push_str(&format!(
                "{}: no node watches it: nothing reruns\n",
                relative.display()
            ));
            continue;
        }
        let names = |ids: &mut dyn Iterator<Item = crate::model::NodeId>| -> String {
            ids.map(|n| project.node(n).name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let downstream: Vec<_> = stale
            .iter()
            .copied()
            .filter(|n| !direct.contains(n))
            .collect();
        out.push_str(&format!(
            "{}: watched by {}",
            relative.display(),
            names(&mut direct.iter().copied())
        ));
        if !downstream.is_empty() {
            out.push_str(&format!(
                "; then reruns {}",
                names(&mut downstream.into_iter())
            ));
        }
        out.push('\n');
    }
    print(&out)
}

/// Makes `path` relative to `root`, resolving `.` and `..` lexically.
fn relative_to(path: &Path, root: &Path) -> Option<PathBuf> {
    let mut normal = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                normal.pop();
            }
            std::path::Component::CurDir => {}
            other => normal.push(other),
        }
    }
    normal.strip_prefix(root).ok().map(Path::to_path_buf)
}

/// `hot ci --dry-run`: the steps, each a set of tasks that may run side by side.
fn dry_run(project: &Project) -> String {
    let graph = Graph::new(project);
    let mut out = String::new();
    let mut step = 0;
    for level in graph.levels() {
        let tasks: Vec<_> = level
            .iter()
            .map(|n| project.node(*n))
            .filter(|n| n.kind == Kind::Task)
            .collect();
        if tasks.is_empty() {
            continue;
        }
        step += 1;
        let parallel = if tasks.len() > 1 {
            " (in parallel)"
        } else {
            ""
        };
        out.push_str(&format!("step {step}{parallel}:\n"));
        for task in tasks {
            let dir = task
                .dir
                .strip_prefix(&project.root)
                .ok()
                .filter(|d| !d.as_os_str().is_empty())
                .map_or_else(|| ".".to_owned(), |d| format!("./{}", d.display()));
            out.push_str(&format!("  {}: {}  (in {dir})\n", task.name, task.run));
        }
    }
    let services: Vec<&str> = project
        .nodes
        .iter()
        .filter(|n| n.kind == Kind::Service)
        .map(|n| n.name.as_str())
        .collect();
    if !services.is_empty() {
        out.push_str(&format!("not run (services): {}\n", services.join(", ")));
    }
    out
}

fn print(text: &str) -> u8 {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => exit::OK,
        // A closed pipe (`hot graph | head`) is the reader's choice, not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(_) => exit::FAILED,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
