//! The command line: parses arguments, loads the Hotfile, and hands each command to the module
//! that does it. No policy lives here.
//!
//! [`args`] declares the commands and flags, [`commands`] answers the one-shot ones, [`shell`]
//! writes completion scripts and man pages, and [`failure`] gives every error of the command
//! line the one style of Hotfile diagnostics (miette's `MietteDiagnostic`, with a `hot::…` code).

mod args;
mod commands;
mod failure;
mod shell;

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory, FromArgMatches};

use crate::driver::{self, Plan};
use crate::engine::Mode;
use crate::hotfile;
use crate::model::{Command as Run, Project};
use crate::report::Reporter;

use args::{Cli, Command, GraphFormat, Jobs, WatchArgs};
use failure::{Failure, failure};
use miette::MietteDiagnostic;

use crate::exit;

/// The `hot` binary's entry point.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    #[cfg(unix)]
    if args.get(1).is_some_and(|a| a == crate::shim::ARG) {
        crate::shim::main(&args[2..]);
    }
    let choice = failure::color_in(&args);
    let clap_color = match choice {
        args::ColorChoice::Always => clap::ColorChoice::Always,
        args::ColorChoice::Never => clap::ColorChoice::Never,
        args::ColorChoice::Auto => clap::ColorChoice::Auto,
    };
    let parsed = Cli::command()
        .color(clap_color)
        .try_get_matches_from(&args)
        .and_then(|matches| Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // `--help` and `--version`: clap's own text, on stdout.
            let _ = error.print();
            return ExitCode::from(exit::OK);
        }
        Err(error) => {
            let mut diagnostic = failure::from_clap(&error);
            if let Some(tip) = failure::poll_tip(&args) {
                diagnostic.help = Some(tip);
            }
            failure::eprint(&diagnostic, failure::color(choice));
            return ExitCode::from(exit::USAGE);
        }
    };
    ExitCode::from(run(cli))
}

fn run(cli: Cli) -> u8 {
    let color = failure::color(cli.color);
    let reporter = match cli.command {
        Some(Command::Ci { dry_run: false, .. }) => {
            Reporter::closed_by_summary(cli.json, failure::choice(cli.color))
        }
        _ => Reporter::new(cli.json, failure::choice(cli.color)),
    };
    let fail = |error: MietteDiagnostic| {
        reporter.diagnostic(&error);
        exit::USAGE
    };
    if let Some(command) = &cli.command
        && let Some(flag) = cli.watch_flag()
        && !matches!(command, Command::Watch { .. })
    {
        return fail(
            failure(
                "hot::misplaced_flag",
                format!(
                    "`{flag}` before `{}` belongs to plain `hot`",
                    command.name()
                ),
            )
            .with_help(match command {
                Command::Run { .. } | Command::Ci { .. } if flag == "--jobs" => {
                    format!(
                        "a command's flags go after it: `hot {} -j N …`",
                        command.name()
                    )
                }
                _ => format!("`{flag}` is for watch mode: `hot {flag} …` or `hot watch {flag} …`"),
            }),
        );
    }
    // Commands that need no Hotfile, or refuse `--json`.
    match &cli.command {
        Some(command @ (Command::Completions { .. } | Command::Manpage { .. })) if cli.json => {
            return fail(
                failure(
                    "hot::json_unsupported",
                    format!("`hot {}` has no JSON output", command.name()),
                )
                .with_help("it prints a file for your shell or `man`; leave out `--json`"),
            );
        }
        Some(Command::Init {
            force,
            packages,
            bins,
        }) => {
            let ask = crate::init::Ask {
                packages: packages.clone(),
                bins: bins.clone(),
            };
            return crate::init::run(*force, &ask, &reporter);
        }
        Some(Command::Completions { shell }) => {
            return commands::print(&shell::completions(*shell));
        }
        Some(Command::Manpage { dir }) => {
            return match shell::manpage(dir.as_deref()) {
                Ok(text) => commands::print(&text),
                Err(error) => {
                    reporter.diagnostic(&*error);
                    exit::FAILED
                }
            };
        }
        _ => {}
    }
    let Some(path) = cli.file.clone().or_else(|| {
        std::env::current_dir()
            .ok()
            .and_then(|dir| hotfile::find(&dir))
    }) else {
        // The completion scripts ask for node names wherever the user is: no Hotfile, no names.
        if matches!(cli.command, Some(Command::Nodes)) {
            return exit::OK;
        }
        return fail(
            failure(
                "hot::no_hotfile",
                "no `Hotfile` here or in any parent directory",
            )
            .with_help("run `hot init` to write one for this project, or name one with `-f PATH`"),
        );
    };
    // The span table is for `hot check`'s warnings: nothing reads the Hotfile twice.
    let spanned = matches!(cli.command, Some(Command::Check));
    let hotfile::Loaded { project, spans } = match hotfile::load_with(&path, spanned) {
        Ok(loaded) => loaded,
        Err(diagnostics) if cli.json && matches!(cli.command, Some(Command::Check)) => {
            commands::print(&commands::unsound(&diagnostics));
            return exit::USAGE;
        }
        Err(diagnostics) => {
            reporter.diagnostic(&diagnostics);
            return exit::USAGE;
        }
    };
    // A one-shot command exits right after: freeing every node and span of a 500-node
    // Hotfile, allocation by allocation, was 2 M instructions of `hot ci --dry-run`'s 35 M.
    // A command that runs the project takes it back out.
    let (project, spans) = (
        std::mem::ManuallyDrop::new(project),
        std::mem::ManuallyDrop::new(spans),
    );
    if color && !cli.json {
        children_keep_colour();
    }
    let command = cli.command.unwrap_or(Command::Watch {
        names: Vec::new(),
        watch: WatchArgs::default(),
        jobs: Jobs::default(),
    });
    let jobs = |jobs: Jobs| {
        jobs.jobs
            .or(cli.jobs.jobs)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from))
            .max(1)
    };
    match command {
        Command::Check => commands::check(&project, &spans, &reporter),
        Command::Graph { format } => {
            let format = match (format, cli.json) {
                (Some(format), false) => format,
                (None | Some(GraphFormat::Json), true) => GraphFormat::Json,
                (None, false) => GraphFormat::Text,
                (Some(format), true) => {
                    let name = clap::ValueEnum::to_possible_value(&format)
                        .map(|v| v.get_name().to_owned())
                        .unwrap_or_default();
                    return fail(
                        failure(
                            "hot::json_conflict",
                            format!(
                                "`--json` asks for JSON and `--format {name}` for another format"
                            ),
                        )
                        .with_help("leave out one of them (`--json` is `--format json`)"),
                    );
                }
            };
            commands::graph(&project, format)
        }
        Command::Why { paths } => commands::why(&project, &paths, cli.json),
        Command::Nodes => {
            let names: String = project
                .nodes
                .iter()
                .map(|n| format!("{}\n", n.name))
                .collect();
            commands::print(&names)
        }
        Command::Ci { dry_run: true, .. } => {
            commands::print(&commands::dry_run(&project, cli.json))
        }
        Command::Ci {
            dry_run: false,
            jobs: j,
        } => driver::run(
            Arc::new(std::mem::ManuallyDrop::into_inner(project)),
            reporter,
            Plan {
                mode: Mode::Once,
                targets: None,
                services: false,
                jobs: jobs(j),
                watch: None,
                summary: true,
                status: false,
                color,
            },
        ),
        Command::Run {
            names,
            args,
            jobs: j,
        } => {
            if let Err(error) = known(&project, &names) {
                return fail(*error);
            }
            let mut project = std::mem::ManuallyDrop::into_inner(project);
            if let Err(error) = append(&mut project, &names, &args) {
                return fail(*error);
            }
            driver::run(
                Arc::new(project),
                reporter,
                Plan {
                    mode: Mode::Once,
                    targets: Some(names),
                    services: true,
                    jobs: jobs(j),
                    watch: None,
                    summary: false,
                    status: false,
                    color,
                },
            )
        }
        Command::Watch {
            names,
            watch,
            jobs: j,
        } => {
            if let Err(error) = known(&project, &names) {
                return fail(*error);
            }
            let watch = cli.watch.or(watch);
            let debounce = watch.debounce.unwrap_or(project.debounce);
            driver::run(
                Arc::new(std::mem::ManuallyDrop::into_inner(project)),
                reporter,
                Plan {
                    mode: Mode::Watch,
                    targets: (!names.is_empty()).then_some(names),
                    services: true,
                    jobs: jobs(j),
                    watch: Some(driver::WatchPlan {
                        debounce,
                        poll: watch.poll,
                    }),
                    summary: false,
                    status: !watch.no_status,
                    color,
                },
            )
        }
        // Handled above, before a Hotfile is looked for.
        Command::Init { .. } | Command::Completions { .. } | Command::Manpage { .. } => exit::OK,
    }
}

/// Children write into hot's pipes, so cargo (and anything else reading CARGO_TERM_COLOR)
/// would drop its colours although hot shows them on a terminal. A value the user set, in
/// the environment or in the Hotfile's `env`, wins.
fn children_keep_colour() {
    if std::env::var_os("CARGO_TERM_COLOR").is_none() {
        // SAFETY: called on the main thread before the runtime or any other thread starts
        // (the Hotfile's parse threads have been joined), so nothing reads the environment
        // concurrently.
        unsafe { std::env::set_var("CARGO_TERM_COLOR", "always") };
    }
}

/// Rejects node names the Hotfile does not declare, suggesting the closest.
fn known(project: &Project, names: &[String]) -> Result<(), Failure> {
    for name in names {
        if project.find(name).is_none() {
            let all: Vec<&str> = project.nodes.iter().map(|n| n.name.as_str()).collect();
            let help = match hotfile::suggest(name, all.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None if crate::model::parse_duration(name).is_some() => format!(
                    "if `{name}` is meant for `--poll`, write `--poll={name}`: its interval is \
                     optional, so it takes `=`"
                ),
                None => format!("the nodes are: {}", all.join(", ")),
            };
            return Err(failure(
                "hot::unknown_node",
                format!(
                    "no node named `{name}` in {}",
                    hotfile::display_name(&project.hotfile)
                ),
            )
            .with_help(help)
            .into());
        }
    }
    Ok(())
}

/// `hot run NAME -- ARGS`: `ARGS` appended to that node's command, as further argv items or,
/// for a shell line, as shell-quoted words (so `--name 'a b'` stays two words).
fn append(project: &mut Project, names: &[String], args: &[String]) -> Result<(), Failure> {
    if args.is_empty() {
        return Ok(());
    }
    let [name] = names else {
        return Err(failure(
            "hot::ambiguous_args",
            format!(
                "the arguments after `--` go to one node, and {} are named",
                names.join(", ")
            ),
        )
        .with_help("name the one node they are for: `hot run NAME -- ARGS`")
        .into());
    };
    let Some(id) = project.find(name) else {
        return Ok(());
    };
    let node = &mut project.nodes[id.0];
    match &mut node.run {
        Run::Argv(argv) => argv.extend(args.iter().map(|a| a.as_str().into())),
        Run::Shell(line) => {
            let words = shlex::try_join(args.iter().map(String::as_str)).map_err(|e| {
                failure(
                    "hot::bad_args",
                    format!("cannot pass these arguments to a shell: {e}"),
                )
            })?;
            *line = format!("{line} {words}").into();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testing;

    #[test]
    fn arguments_extend_a_shell_line_quoted() {
        let mut project = testing::project(&[("test", &[], &[])]);
        let args = [
            "--nocapture".to_owned(),
            "a b".to_owned(),
            "it's".to_owned(),
        ];
        append(&mut project, &["test".into()], &args).expect("one node");
        assert_eq!(
            project.nodes[0].run,
            Run::Shell(r#"echo test --nocapture 'a b' "it's""#.into())
        );
    }

    #[test]
    fn arguments_extend_an_argv() {
        let mut project = testing::project(&[("test", &[], &[])]);
        project.nodes[0].run = Run::Argv(vec!["cargo".into(), "test".into()]);
        append(&mut project, &["test".into()], &["--".into(), "x y".into()]).expect("one node");
        assert_eq!(
            project.nodes[0].run,
            Run::Argv(vec![
                "cargo".into(),
                "test".into(),
                "--".into(),
                "x y".into()
            ])
        );
    }

    #[test]
    fn arguments_need_exactly_one_node() {
        let mut project = testing::project(&[("a", &[], &[]), ("b", &[], &[])]);
        let names = ["a".to_owned(), "b".to_owned()];
        let error = append(&mut project, &names, &["-x".into()]).unwrap_err();
        assert!(error.to_string().contains("go to one node"), "{error}");
    }
}
