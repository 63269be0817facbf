//! Hotfile parsing and checking: the helpers here, the tests by topic below.

use std::path::Path;
use std::time::Duration;

use miette::Diagnostic;

use super::*;
use crate::model::{Command, Kind, NodeId, Ready, Signal, Stop};

/// A fixed, absolute path outside the crate, so diagnostics name it the same everywhere.
const PATH: &str = "/tmp/x/Hotfile";

thread_local! {
    /// How many times this thread handed a text to kdl's parser (`parse_kdl`).
    pub(super) static KDL_READS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn ok(input: &str) -> Project {
    match parse(Path::new(PATH), input) {
        Ok(project) => project,
        Err(diags) => panic!("{}", crate::report::render_plain(&diags, 80)),
    }
}

fn render(input: &str) -> String {
    match parse(Path::new(PATH), input) {
        Ok(_) => panic!("expected mistakes in:\n{input}"),
        Err(diags) => crate::report::render_plain(&diags, 80),
    }
}

/// `expected`: the messages of every mistake, in file order; empty means "parses".
#[track_caller]
fn check(input: &str, expected: &[&str]) {
    match parse(Path::new(PATH), input) {
        Ok(_) => assert!(
            expected.is_empty(),
            "parsed, expected {expected:?}:\n{input}"
        ),
        Err(diags) => {
            let messages = diags.messages();
            assert_eq!(
                messages,
                expected,
                "\n{}",
                crate::report::render_plain(&diags, 80)
            );
            // Every mistake in the file carries a span (a caret) except I/O and size errors.
            for mistake in diags.iter() {
                assert!(
                    mistake.labels().is_some_and(|mut l| l.next().is_some()),
                    "no label: {mistake}"
                );
            }
        }
    }
}

/// The Hotfile contract's own example, shared with the integration tests.
const CONTRACT: &str = include_str!("../../../tests/contract.kdl");

mod forms;
mod gate;
mod limits;
mod mistakes;
mod quick;
mod rendered;
mod root;
