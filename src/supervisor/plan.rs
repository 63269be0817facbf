//! Pure planning: what program to execute for a node, with which arguments.

use std::ffi::OsString;
use std::path::Path;

use crate::model::{Command, Text};
use crate::sockets::RawFd;

/// A program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Launch {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// The program the user asked for (for messages): `cargo`, or `sh` for a shell line.
    pub user_program: String,
    /// Whether `LISTEN_PID` will be the server's pid (false: a shell forks it).
    pub pid_kept: bool,
}

/// How to run `command`: through the shim at `shim_exe`, which places `sockets` and keeps
/// the command (see `crate::shim`), reporting over `status`. `shared`: another live instance
/// holds these sockets, so the shim must leave their mode alone. `exe`: the program's path,
/// already resolved (the shim then execs it with no PATH search).
pub(crate) fn launch(
    command: &Command,
    exe: Option<&Path>,
    shim_exe: &Path,
    sockets: &[(String, RawFd)],
    shared: bool,
    status: Option<RawFd>,
) -> Launch {
    let (argv, pid_kept): (Vec<OsString>, bool) = match command {
        Command::Argv(argv) => (argv.iter().map(OsString::from).collect(), true),
        Command::Shell(line) if sockets.is_empty() => (shell(line.to_string()), false),
        Command::Shell(line) => match exec_form(line) {
            Some(line) => (shell(line), true),
            None => (shell(line.to_string()), false),
        },
    };
    let user_program = match command {
        Command::Argv(argv) => argv.first().map(Text::to_string).unwrap_or_default(),
        Command::Shell(_) => "sh".into(),
    };
    #[cfg(unix)]
    let (program, args) = {
        let mut args = vec![OsString::from(crate::shim::ARG)];
        args.extend(
            crate::shim::ShimArgs {
                sockets: sockets.iter().map(|(n, _)| n.clone()).collect(),
                no_pid: !pid_kept && !sockets.is_empty(),
                shared,
                status,
                exe: exe.map(|p| p.as_os_str().to_owned()),
                command: argv,
            }
            .to_args(),
        );
        (shim_exe.as_os_str().to_owned(), args)
    };
    #[cfg(not(unix))]
    let (program, args) = {
        let _ = (shim_exe, shared, status, exe);
        let mut argv = argv.into_iter();
        (argv.next().unwrap_or_default(), argv.collect())
    };
    Launch {
        program,
        args,
        user_program,
        pid_kept,
    }
}

fn shell(line: String) -> Vec<OsString> {
    vec!["sh".into(), "-c".into(), line.into()]
}

/// The form of a shell line that makes `sh` exec the command instead of forking it, so the
/// server keeps the pid the shim gave `LISTEN_PID`; `None` when the line is not a simple
/// command (or might not be: this errs on the side of `None`, which only costs the strict
/// pid check).
pub fn exec_form(line: &str) -> Option<String> {
    let line = line.trim();
    // Lists, pipes, redirections, subshells, command substitution, background jobs, and
    // anything spanning lines: `exec` would apply to the first part only, or not parse.
    if line.is_empty() || line.contains([';', '&', '|', '<', '>', '(', ')', '`', '\n', '\r']) {
        return None;
    }
    let first = line.split([' ', '\t']).next()?;
    if first == "exec" {
        return Some(line.to_string()); // already execs
    }
    // `VAR=x cmd`: `exec VAR=x cmd` would try to run a program named `VAR=x`.
    if let Some((name, _)) = first.split_once('=')
        && !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return None;
    }
    // Keywords and builtins have no program to exec (`exec cd x` fails); quoting or an
    // expansion in the first word could turn into one of them.
    if crate::program::SHELL_WORDS.contains(&first)
        || first.starts_with('-')
        || first.contains(['$', '"', '\'', '\\', '{', '}', '*', '?', '[', '~', '#', '='])
    {
        return None;
    }
    Some(format!("exec {line}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_commands_are_execed() {
        for (line, expected) in [
            ("./target/debug/app", Some("exec ./target/debug/app")),
            (
                "  cargo run --bin server  ",
                Some("exec cargo run --bin server"),
            ),
            (
                "python3 -m http.server",
                Some("exec python3 -m http.server"),
            ),
            ("app --port $PORT", Some("exec app --port $PORT")),
            ("app \"a b\" 'c d'", Some("exec app \"a b\" 'c d'")),
            ("app --level=debug", Some("exec app --level=debug")),
            ("app src/*.rs", Some("exec app src/*.rs")),
            ("app\t--x", Some("exec app\t--x")),
            (
                "/usr/bin/env node server.js",
                Some("exec /usr/bin/env node server.js"),
            ),
            ("exec ./app", Some("exec ./app")),
            ("exec", Some("exec")),
            // Not simple: lists, pipes, redirections, jobs, substitutions, lines.
            ("make; ./app", None),
            ("make && ./app", None),
            ("./app || true", None),
            ("./app | tee log", None),
            ("./app > log", None),
            ("./app 2>&1", None),
            ("./app < input", None),
            ("./app &", None),
            ("(./app)", None),
            ("./app $(cat port)", None),
            ("./app `cat port`", None),
            ("./app $((1+2))", None),
            ("./app\n./other", None),
            ("./app \\\n --x", None),
            // Not simple: assignments, keywords, builtins, odd first words.
            ("RUST_LOG=debug ./app", None),
            ("A=1 B=2 ./app", None),
            ("_X=1 app", None),
            ("! ./app", None),
            ("{ ./app", None),
            ("if", None),
            ("while true", None),
            ("for x in a", None),
            ("time ./app", None),
            ("cd web", None),
            (". ./env", None),
            ("source env", None),
            ("export A=1", None),
            ("eval ./app", None),
            ("wait", None),
            ("-x", None),
            ("$APP --x", None),
            ("\"my app\" --x", None),
            ("'app'", None),
            ("~/bin/app", None),
            ("ap*p", None),
            ("#comment", None),
            ("", None),
            ("   ", None),
        ] {
            assert_eq!(exec_form(line).as_deref(), expected, "{line:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn launches() {
        let shim = Path::new("/proc/self/exe");
        let s = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();

        let direct = launch(
            &Command::Argv(vec!["cargo".into(), "t".into()]),
            None,
            shim,
            &[],
            false,
            Some(5),
        );
        assert_eq!(direct.program, "/proc/self/exe");
        assert_eq!(
            direct.args,
            s(&["__shim", "--status", "5", "--", "cargo", "t"])
        );
        assert_eq!(direct.user_program, "cargo");

        let resolved = launch(
            &Command::Argv(vec!["cargo".into(), "t".into()]),
            Some(Path::new("/usr/bin/cargo")),
            shim,
            &[],
            false,
            None,
        );
        assert_eq!(
            resolved.args,
            s(&["__shim", "--exe", "/usr/bin/cargo", "--", "cargo", "t"]),
            "argv[0] stays as written"
        );

        let task = launch(
            &Command::Shell("./app".into()),
            None,
            shim,
            &[],
            false,
            None,
        );
        assert_eq!(
            task.args,
            s(&["__shim", "--", "sh", "-c", "./app"]),
            "no exec needed without sockets"
        );

        let sockets = [("http".to_string(), 7), ("admin".to_string(), 9)];
        let argv = launch(
            &Command::Argv(vec!["./app".into()]),
            None,
            shim,
            &sockets,
            false,
            None,
        );
        assert_eq!(
            argv.args,
            s(&[
                "__shim", "--socket", "http", "--socket", "admin", "--", "./app"
            ])
        );
        assert!(argv.pid_kept);

        // One command is exec'd, so its pid is the server's; a list keeps sh as the pid.
        for (line, args, pid_kept) in [
            (
                "./app -v",
                &[
                    "__shim",
                    "--socket",
                    "http",
                    "--",
                    "sh",
                    "-c",
                    "exec ./app -v",
                ][..],
                true,
            ),
            (
                "make && ./app",
                &[
                    "__shim",
                    "--no-pid",
                    "--socket",
                    "http",
                    "--",
                    "sh",
                    "-c",
                    "make && ./app",
                ][..],
                false,
            ),
        ] {
            let plan = launch(
                &Command::Shell(line.into()),
                None,
                shim,
                &sockets[..1],
                false,
                None,
            );
            assert_eq!(plan.args, s(args), "{line}");
            assert_eq!(plan.pid_kept, pid_kept, "{line}");
        }

        let overlap = launch(
            &Command::Argv(vec!["./app".into()]),
            None,
            shim,
            &sockets[..1],
            true,
            None,
        );
        assert_eq!(
            overlap.args,
            s(&["__shim", "--shared", "--socket", "http", "--", "./app"])
        );
    }
}
