//! Programs as a shell finds them: the one PATH lookup and the one list of the shell's own
//! words, for the supervisor (before it spawns a node) and `lint` (`hot check`).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use crate::model::Text;

/// Keywords and builtins: words a shell line may start with that name no program to exec
/// (`exec cd x` fails) or to look for on PATH. `echo`, `printf`, `test`, `[`, `true` and
/// `false` are builtins of every shell too, whether or not a program of that name exists.
pub(crate) const SHELL_WORDS: &[&str] = &[
    "echo", "printf", "test", "[", "true", "false", "!", "{", "}", "[[", "]]", "if", "then",
    "else", "elif", "fi", "do", "done", "case", "esac", "while", "until", "for", "in", "function",
    "select", "time", "coproc", ".", ":", "source", "cd", "eval", "export", "set", "unset",
    "alias", "unalias", "trap", "wait", "ulimit", "umask", "readonly", "local", "shift", "return",
    "break", "continue", "exit", "read", "command", "builtin", "type", "hash", "jobs", "fg", "bg",
    "getopts", "declare", "typeset", "let",
];

/// Whether `path` is a file its owner, group or anyone may execute.
pub(crate) fn executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    path.is_file()
}

/// The `PATH` a command's `env` sets (the last one), if any: else it sees hot's own.
pub(crate) fn path_in(env: &[(Text, Text)]) -> Option<&str> {
    env.iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
}

/// A bare program name looked up as execvp does: in each directory of the PATH the command
/// sees (the last `PATH` in `env`, else hot's own), a relative one taken from `dir`.
pub(crate) fn on_path(program: &OsStr, dir: &Path, env: &[(Text, Text)]) -> Option<PathBuf> {
    let search: OsString = path_in(env)
        .map(OsString::from)
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_default();
    std::env::split_paths(&search)
        .map(|d| dir.join(d).join(program))
        .find(|candidate| executable(candidate))
}
