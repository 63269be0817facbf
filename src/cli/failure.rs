//! One error style. A usage mistake, a runtime failure found by the command line and a clap
//! parse error are all miette diagnostics, rendered by the same renderer as Hotfile mistakes:
//! `× what went wrong`, then `help: what to do`.

use std::ffi::OsString;
use std::io::Write;

use miette::{Diagnostic, MietteDiagnostic};

use super::args::ColorChoice;
use crate::report;

/// A failure returned up the stack (boxed: a diagnostic is large beside `Ok`).
pub(super) type Failure = Box<MietteDiagnostic>;

/// A failure of the command line (not of a node): what failed, with a stable `hot::…` code
/// as Hotfile diagnostics have; `.with_help(…)` says what to do.
pub(super) fn failure(code: &str, message: impl Into<String>) -> MietteDiagnostic {
    MietteDiagnostic::new(message).with_code(code)
}

/// A clap error (not `--help` or `--version`) in this style: its first line as the message,
/// its tips, usage and pointer to `--help` as the help.
pub(super) fn from_clap(error: &clap::Error) -> MietteDiagnostic {
    let text = error.render().to_string();
    let mut lines = text.lines().map(str::trim_end);
    let message = lines
        .by_ref()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid arguments");
    let message = message.strip_prefix("error: ").unwrap_or(message);
    let help: Vec<&str> = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let l = l.trim_start();
            l.strip_prefix("tip: ").unwrap_or(l)
        })
        .collect();
    let diagnostic = failure("hot::usage", message);
    if help.is_empty() {
        diagnostic
    } else {
        diagnostic.with_help(help.join("\n"))
    }
}

/// `--poll 1s` reads `1s` as a command (the interval is optional): the tip to write `=`.
pub(super) fn poll_tip(args: &[OsString]) -> Option<String> {
    let words: Vec<_> = args.iter().map(|a| a.to_string_lossy()).collect();
    let at = words.iter().position(|w| w == "--poll")?;
    let value = words.get(at + 1)?;
    crate::model::parse_duration(value)?;
    Some(format!(
        "the interval of `--poll` is optional, so it is written with `=`: `--poll={value}`"
    ))
}

/// `--color` as the reporter takes it; `auto` is decided there, per stream, in one place.
pub(super) fn choice(choice: ColorChoice) -> report::ColorChoice {
    match choice {
        ColorChoice::Auto => report::ColorChoice::Auto,
        ColorChoice::Always => report::ColorChoice::Always,
        ColorChoice::Never => report::ColorChoice::Never,
    }
}

/// Whether to colour hot's terminal output (stderr), from `--color` and the environment.
pub(super) fn color(choice: ColorChoice) -> bool {
    self::choice(choice).enabled(report::lines::To::Stderr)
}

/// `--color` read straight from the arguments, for the errors clap reports before it has
/// parsed them.
pub(super) fn color_in(args: &[OsString]) -> ColorChoice {
    let mut choice = ColorChoice::Auto;
    let mut words = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        let value = match word.strip_prefix("--color") {
            Some("") => words.next().map(|w| w.into_owned()),
            Some(rest) => rest.strip_prefix('=').map(str::to_owned),
            None => None,
        };
        choice = match value.as_deref() {
            Some("always") => ColorChoice::Always,
            Some("never") => ColorChoice::Never,
            Some("auto") => ColorChoice::Auto,
            _ => choice,
        };
    }
    choice
}

/// Writes a diagnostic to stderr in the one style, outside any `Reporter`.
pub(super) fn eprint(diagnostic: &dyn Diagnostic, color: bool) {
    let _ = write!(
        std::io::stderr().lock(),
        "{}",
        report::render(diagnostic, color)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<OsString> {
        std::iter::once("hot")
            .chain(words.iter().copied())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn poll_with_a_separate_interval_gets_a_tip() {
        assert!(poll_tip(&args(&["--poll", "1s"])).is_some_and(|t| t.contains("`--poll=1s`")));
        assert_eq!(poll_tip(&args(&["--poll", "watch"])), None);
        assert_eq!(poll_tip(&args(&["--poll=1s"])), None);
    }

    #[test]
    fn color_flag_is_found_before_parsing() {
        assert_eq!(color_in(&args(&["--color=never"])), ColorChoice::Never);
        assert_eq!(
            color_in(&args(&["run", "--color", "always", "x"])),
            ColorChoice::Always
        );
        assert_eq!(
            color_in(&args(&["run", "x", "--", "--color=never"])),
            ColorChoice::Auto
        );
        assert_eq!(color_in(&args(&["--colour"])), ColorChoice::Auto);
    }
}
