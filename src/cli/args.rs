//! The command line as clap reads it: every command, flag and `--help` text.
//!
//! Flags live where they mean something: `-j` only on the commands that run things, the watch
//! flags on `hot watch` and on bare `hot` (which is watch mode), `--json` everywhere (commands
//! where it has no meaning refuse it in `cli::run`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::model::parse_duration;

const EXAMPLES: &str = "\
Examples:
  hot                        run every node once, then rerun what each change affects
  hot --poll                 the same, polling the file system (NFS, WSL's /mnt, Docker mounts)
  hot watch serve            only `serve` and what it comes after
  hot run test -- parser     run `test` (and what it needs) once, with `parser` appended
  hot ci                     every task once, no services; exit 1 if one failed
  hot why src/main.rs        which nodes a change to src/main.rs reruns
  hot check                  validate the Hotfile and warn about likely mistakes

With no command, hot runs every node once, then watches (like `hot watch`).
A Hotfile is looked for here and in each parent directory; `hot init` writes one.";

const WATCH_EXAMPLES: &str = "\
Examples:
  hot watch                  every node (the same as plain `hot`)
  hot watch serve            `serve` and everything it comes after
  hot watch test --debounce 100ms
                             wait for 100 ms of quiet before a burst of changes runs
  hot watch --poll=1s        poll every second instead of using file-system events";

const RUN_EXAMPLES: &str = "\
Examples:
  hot run build              `build` and what it comes after, once
  hot run test -- parser     `cargo test` becomes `cargo test parser` for this run
  hot run test -- -- --nocapture
                             `cargo test -- --nocapture`: a second `--` is passed on as is
  hot run serve              build what `serve` needs, then serve until Ctrl-C";

const GRAPH_EXAMPLES: &str = "\
Examples:
  hot graph                          the nodes, what each comes after and watches
  hot graph --format dot | dot -Tsvg > graph.svg
  hot graph --json                   the same as --format json";

const CHECK_EXAMPLES: &str = "\
Examples:
  hot check                  exit 0 when the Hotfile is sound (warnings included), 2 when not
  hot check --json           the verdict and every warning as one JSON document";

const CI_EXAMPLES: &str = "\
Examples:
  hot ci                     every task once, in dependency order, with a summary
  hot ci -j 1                one task at a time
  hot ci --dry-run           the steps, commands and directories, without running anything";

const WHY_EXAMPLES: &str = "\
Examples:
  hot why src/main.rs        the nodes that watch it, then what reruns after them
  hot why --json templates/index.html Cargo.toml";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  hot completions bash > ~/.local/share/bash-completion/completions/hot
  hot completions zsh > ~/.zfunc/_hot       (with `fpath+=~/.zfunc` before `compinit`)
  hot completions fish > ~/.config/fish/completions/hot.fish

Node names after `hot run` and `hot watch` are completed from the Hotfile.";

#[derive(Debug, Parser)]
#[command(
    name = "hot",
    version,
    about = "A declarative dev loop: check, test and restart your server on every change, \
             handing it a socket that never refuses a connection",
    after_help = EXAMPLES
)]
pub(super) struct Cli {
    /// The Hotfile to use (default: `Hotfile` here or in the nearest parent directory).
    #[arg(short, long, global = true, value_name = "PATH")]
    pub file: Option<PathBuf>,

    /// Print JSON on stdout: one event per line while running, one document for `graph`,
    /// `why`, `check` and `ci --dry-run`.
    #[arg(long, global = true)]
    pub json: bool,

    /// When to colour output: `auto` colours a terminal unless NO_COLOR is set (or
    /// CLICOLOR_FORCE forces it).
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "WHEN",
        default_value_t = ColorChoice::Auto
    )]
    pub color: ColorChoice,

    /// For bare `hot` (watch mode); `cli::run` refuses them before another command.
    #[command(flatten)]
    pub jobs: Jobs,

    /// For bare `hot` (watch mode), as `hot watch` takes them.
    #[command(flatten)]
    pub watch: WatchArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Run the named nodes (default: all) and what they come after, then rerun what each
    /// change affects.
    #[command(after_help = WATCH_EXAMPLES)]
    Watch {
        /// Nodes to watch; what they come after comes along.
        #[arg(value_name = "NAME")]
        names: Vec<String>,
        #[command(flatten)]
        watch: WatchArgs,
        #[command(flatten)]
        jobs: Jobs,
    },
    /// Run the named nodes and what they come after once; a service then stays in the
    /// foreground until Ctrl-C.
    #[command(after_help = RUN_EXAMPLES)]
    Run {
        /// The nodes to run; what they come after runs first.
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
        /// Appended to the command of the (single) named node.
        #[arg(last = true, value_name = "ARGS")]
        args: Vec<String>,
        #[command(flatten)]
        jobs: Jobs,
    },
    /// Print the graph.
    #[command(after_help = GRAPH_EXAMPLES)]
    Graph {
        /// How to print it: text (the default), dot for Graphviz, mermaid, or json (the same
        /// as `--json`).
        #[arg(long, value_enum)]
        format: Option<GraphFormat>,
    },
    /// Validate the Hotfile: exit 0 when it is sound (warnings are shown), 2 with diagnostics
    /// when not.
    #[command(after_help = CHECK_EXAMPLES)]
    Check,
    /// Run every task once in dependency order, no services; exit 1 if any failed.
    #[command(after_help = CI_EXAMPLES)]
    Ci {
        /// Print the plan (order, commands, working directories) and run nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        jobs: Jobs,
    },
    /// Write a commented Hotfile for the project here and print the next steps. In a Cargo
    /// workspace member's directory: that member's clippy, test, build and servers; at the
    /// workspace root: every member's checks and the first few binaries that serve.
    Init {
        /// Replace an existing Hotfile.
        #[arg(long)]
        force: bool,
        /// Write the Hotfile for this Cargo package (and the ones named by other `--package`),
        /// with all of its binaries that serve; repeatable.
        #[arg(long = "package", short = 'p', value_name = "NAME")]
        packages: Vec<String>,
        /// Make a service of this binary, whatever hot thinks of it, and of no binary not
        /// named by a `--bin`; repeatable.
        #[arg(long = "bin", value_name = "NAME")]
        bins: Vec<String>,
    },
    /// Print which nodes a change to each PATH would rerun.
    #[command(after_help = WHY_EXAMPLES)]
    Why {
        /// Files or directories, relative to the current directory; they need not exist.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Print a completion script for SHELL.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        /// The shell the script is for.
        shell: Shell,
    },
    /// Print hot's man page (roff), or write one page per command into DIR.
    #[command(hide = true)]
    Manpage { dir: Option<PathBuf> },
    /// The node names of the Hotfile, one per line (for the completion scripts).
    #[command(name = "__nodes", hide = true)]
    Nodes,
}

impl Command {
    /// The command's name as typed, for messages.
    pub(super) fn name(&self) -> &'static str {
        match self {
            Command::Watch { .. } => "watch",
            Command::Run { .. } => "run",
            Command::Graph { .. } => "graph",
            Command::Check => "check",
            Command::Ci { .. } => "ci",
            Command::Init { .. } => "init",
            Command::Why { .. } => "why",
            Command::Completions { .. } => "completions",
            Command::Manpage { .. } => "manpage",
            Command::Nodes => "__nodes",
        }
    }
}

#[derive(Debug, Default, Clone, Copy, clap::Args)]
pub(super) struct Jobs {
    /// How many tasks may run at once (default: the number of CPUs).
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
}

#[derive(Debug, Default, Clone, Copy, clap::Args)]
pub(super) struct WatchArgs {
    /// Quiet period that closes a burst of changes into one wave (overrides the Hotfile's
    /// `debounce`), e.g. `30ms`.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub debounce: Option<Duration>,

    /// Poll the file system instead of using native events (NFS, WSL's /mnt, Docker bind
    /// mounts), every INTERVAL (default 500ms).
    #[arg(long, value_name = "INTERVAL", num_args = 0..=1, require_equals = true,
          default_missing_value = "500ms", value_parser = duration)]
    pub poll: Option<Duration>,

    /// Print plain lines instead of the live status view (the view is drawn only on a
    /// terminal anyway, never when output is piped, with `--json` or under `TERM=dumb`).
    #[arg(long)]
    pub no_status: bool,
}

impl WatchArgs {
    /// These flags, with `over`'s where it sets them (`hot watch --poll` over `hot --poll`).
    pub(super) fn or(self, over: WatchArgs) -> WatchArgs {
        WatchArgs {
            debounce: over.debounce.or(self.debounce),
            poll: over.poll.or(self.poll),
            no_status: over.no_status || self.no_status,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum GraphFormat {
    Text,
    Dot,
    Mermaid,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum Shell {
    Bash,
    Zsh,
    Fish,
}

fn duration(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)
        .ok_or_else(|| format!("`{text}` is not a duration (e.g. `30ms`, `2s`)"))?;
    if d > crate::hotfile::MAX_DURATION {
        return Err(format!("`{text}` is longer than a day (the limit is 24h)"));
    }
    Ok(d)
}

impl Cli {
    /// The first top-level flag given that only bare `hot` (watch mode) takes.
    pub(super) fn watch_flag(&self) -> Option<&'static str> {
        if self.jobs.jobs.is_some() {
            Some("--jobs")
        } else if self.watch.debounce.is_some() {
            Some("--debounce")
        } else if self.watch.poll.is_some() {
            Some("--poll")
        } else if self.watch.no_status {
            Some("--no-status")
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Cli;

    /// `--debounce 5000000000000000000s` was accepted, then overflowed `Instant + Duration`
    /// in the watcher: hot aborted with status 134.
    #[test]
    fn debounce_past_a_day_is_a_clap_error() {
        for flag in ["--debounce", "--poll"] {
            for huge in ["5000000000000000000s", "25h"] {
                let arg = format!("{flag}={huge}");
                let err = Cli::try_parse_from(["hot", "watch", &arg]).unwrap_err();
                assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation, "{err}");
                assert!(err.to_string().contains("longer than a day"), "{err}");
            }
        }
        assert!(Cli::try_parse_from(["hot", "watch", "--debounce", "24h"]).is_ok());
    }

    #[test]
    fn no_status_is_a_top_level_watch_flag() {
        let cli = Cli::try_parse_from(["hot", "--no-status"]).expect("bare hot takes it");
        assert!(cli.watch.no_status);
        let cli = Cli::try_parse_from(["hot", "watch", "--no-status"]).expect("watch takes it");
        assert_eq!(cli.watch_flag(), None);
        // Before another command it belongs to plain `hot`, as `--poll` does.
        let cli = Cli::try_parse_from(["hot", "--no-status", "ci"]).expect("parses");
        assert_eq!(cli.watch_flag(), Some("--no-status"));
    }
}
