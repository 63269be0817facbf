//! Does a node's `run` program exist? Only the program itself is checked: its arguments, and
//! any shell line hot cannot read as one simple command, are left alone.

use std::path::{Component, Path, PathBuf};

use super::cargo;
use crate::model::{Command, Node};
use crate::program::{SHELL_WORDS, on_path};

/// When `node`'s program cannot be found: what is wrong, and what to do.
pub(super) fn missing(node: &Node) -> Option<(String, String)> {
    let program = program(&node.run)?;
    if program.contains('/') {
        let full = node.dir.join(&program);
        if full.exists() {
            return None;
        }
        if let Some(built) = cargo_target(&full) {
            return match cargo::binaries(&built.workspace) {
                None => Some(not_built(&program)),
                Some(bins) if bins.contains(&built.name) => None,
                Some(bins) => Some(wrong_binary(&program, &built.name, &bins)),
            };
        }
        return Some(not_built(&program));
    }
    if on_path(program.as_ref(), &node.dir, &node.env).is_some() {
        return None;
    }
    Some((
        format!("`{program}` is not on PATH"),
        "install it, or write its path (relative to `dir`, or absolute)".to_owned(),
    ))
}

/// The program a command runs: argv's first item, or a simple shell line's first word after
/// any `VAR=value` assignments and `exec`.
fn program(run: &Command) -> Option<String> {
    let words = match run {
        Command::Argv(argv) => return argv.first().cloned(),
        Command::Shell(line) => shlex::split(line)?,
    };
    let mut words = words
        .into_iter()
        .skip_while(|w| w.split_once('=').is_some_and(|(k, _)| is_name(k)))
        .skip_while(|w| w == "exec");
    let first = words.next()?;
    let shell_syntax = first.contains([
        '$', '`', '(', ')', '{', '}', ';', '&', '|', '<', '>', '*', '?', '~',
    ]);
    (!shell_syntax && !SHELL_WORDS.contains(&first.as_str())).then_some(first)
}

fn is_name(key: &str) -> bool {
    !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit())
}

/// A path into a cargo target directory: `<workspace>/target/<profile>/<name>` or
/// `<workspace>/target/<triple>/<profile>/<name>`.
struct Built {
    workspace: PathBuf,
    name: String,
}

fn cargo_target(full: &Path) -> Option<Built> {
    let parts: Vec<Component> = full.components().collect();
    let at = parts.iter().rposition(|c| c.as_os_str() == "target")?;
    let below = parts.len() - at - 1;
    if !(2..=3).contains(&below) {
        return None;
    }
    let name = parts.last()?.as_os_str().to_str()?.to_owned();
    let workspace: PathBuf = parts[..at].iter().collect();
    Some(Built { workspace, name })
}

fn not_built(program: &str) -> (String, String) {
    (
        format!("`{program}` does not exist"),
        "check the path; a relative one is relative to the node's `dir` (default: the \
         Hotfile's directory)"
            .to_owned(),
    )
}

fn wrong_binary(program: &str, name: &str, bins: &[String]) -> (String, String) {
    let message = format!("`{program}` does not exist, and cargo builds no binary `{name}`");
    let listed = bins
        .iter()
        .map(|b| format!("`{b}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let best = crate::hotfile::suggest(name, bins.iter().map(String::as_str))
        .or_else(|| (bins.len() == 1).then(|| bins[0].as_str()));
    let help = match (best, program.rsplit_once('/')) {
        (Some(best), Some((dir, _))) => {
            format!("did you mean `{dir}/{best}`? this package builds {listed}")
        }
        _ if bins.is_empty() => "this package builds no binary".to_owned(),
        _ => format!("the binaries cargo builds here are {listed}"),
    };
    (message, help)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_of_a_shell_line() {
        let shell = |line: &str| program(&Command::Shell(line.into()));
        assert_eq!(shell("cargo test"), Some("cargo".into()));
        assert_eq!(
            shell("RUST_LOG=info exec ./target/debug/app --port 3"),
            Some("./target/debug/app".into())
        );
        assert_eq!(shell("cd web && npm run build"), None);
        assert_eq!(shell("$HOME/bin/tool"), None);
        assert_eq!(shell("echo hi"), None);
        assert_eq!(shell("'unclosed"), None);
    }

    #[test]
    fn a_cargo_target_path() {
        let built = cargo_target(Path::new("/p/target/debug/app")).expect("a target path");
        assert_eq!(built.workspace, Path::new("/p"));
        assert_eq!(built.name, "app");
        assert!(
            cargo_target(Path::new("/p/target/x86_64-unknown-linux-gnu/release/app")).is_some()
        );
        assert!(cargo_target(Path::new("/p/bin/app")).is_none());
    }
}
