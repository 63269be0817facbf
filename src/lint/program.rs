//! Does a node's `run` program exist? Only the program itself is checked: its arguments, and
//! any shell line hot cannot read as one simple command, are left alone.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::cargo;
use crate::model::Text;
use crate::model::{Command, Node};
use crate::program::{SHELL_WORDS, on_path, path_in};

/// When `node`'s program cannot be found: what is wrong, and what to do. `cargo` answers
/// for paths that may be binaries cargo has yet to build.
pub(super) fn missing(
    node: &Node,
    cargo: &mut Cargo,
    programs: &mut Programs,
) -> Option<(String, String)> {
    let program = program(&node.run)?;
    if program.contains('/') {
        let full = node.dir.join(&program);
        if full.exists() {
            return None;
        }
        return match cargo.workspace(&node.dir) {
            Some(Ok(workspace)) => built(&program, &full, workspace),
            Some(Err(failure)) => {
                let (message, help) = not_built(&program);
                Some((
                    message,
                    format!("{help}; hot could not ask cargo whether it builds it: {failure}"),
                ))
            }
            None => Some(not_built(&program)),
        };
    }
    if programs.on_path(program.clone(), node) {
        return None;
    }
    Some((
        format!("`{program}` is not on PATH"),
        "install it, or write its path (relative to `dir`, or absolute)".to_owned(),
    ))
}

/// What `cargo metadata` said about the workspace of each directory asked about, so a
/// Hotfile with 50 services runs it once. Only directories in a cargo project ask, so
/// `hot check` costs nothing more anywhere else.
#[derive(Default)]
pub(super) struct Cargo {
    seen: HashMap<PathBuf, Option<Result<cargo::Workspace, String>>>,
}

impl Cargo {
    fn workspace(&mut self, dir: &Path) -> Option<&Result<cargo::Workspace, String>> {
        self.seen
            .entry(dir.to_path_buf())
            .or_insert_with(|| {
                let in_cargo = dir.ancestors().any(|d| d.join("Cargo.toml").is_file());
                in_cargo.then(|| cargo::read(dir))
            })
            .as_ref()
    }
}

/// Whether each program was found on the PATH its node sees, so 500 nodes running `cargo`
/// look for it once, not once each.
#[derive(Default)]
pub(super) struct Programs {
    seen: HashMap<(String, PathBuf, Option<String>), bool>,
}

impl Programs {
    fn on_path(&mut self, program: String, node: &Node) -> bool {
        // The answer depends on the program, the node's `dir` and the PATH in its env alone.
        let path = path_in(&node.env).map(str::to_owned);
        *self
            .seen
            .entry((program, node.dir.to_path_buf(), path))
            .or_insert_with_key(|(program, _, _)| {
                on_path(program.as_ref(), &node.dir, &node.env).is_some()
            })
    }
}

/// The warning for a missing `program` (`full` from the node's `dir`) in a cargo workspace:
/// none when it is a binary cargo builds into its target directory.
fn built(program: &str, full: &Path, workspace: &cargo::Workspace) -> Option<(String, String)> {
    let full = lexical(full);
    let below = full.strip_prefix(lexical(&workspace.target_dir)).ok()?;
    // `<profile>/<name>` or `<triple>/<profile>/<name>`.
    if !(2..=3).contains(&below.components().count()) {
        return Some(not_built(program));
    }
    let name = below.file_name()?.to_str()?;
    let (plain, gated) = workspace.binaries();
    if plain.contains(&name) || gated.iter().any(|b| b.name == name) {
        return None;
    }
    let mut bins: Vec<String> = plain.iter().map(|b| (*b).to_owned()).collect();
    bins.extend(gated.iter().map(|b| b.name.clone()));
    bins.sort();
    Some(wrong_binary(program, name, &bins))
}

/// `path` with `.` and `..` resolved without touching the file system.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The program a command runs: argv's first item, or a simple shell line's first word after
/// any `VAR=value` assignments and `exec`.
fn program(run: &Command) -> Option<String> {
    let words = match run {
        Command::Argv(argv) => return argv.first().map(Text::to_string),
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
    fn a_path_is_resolved_lexically() {
        assert_eq!(
            lexical(Path::new("/w/api/../target/./debug/api")),
            Path::new("/w/target/debug/api")
        );
    }
}
