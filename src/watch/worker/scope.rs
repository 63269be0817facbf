//! What is tracked: the Hotfile's relevance, its `always` files and its common `ignore`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::watch::config::{Ignore, Relevance};

pub(super) struct Scope {
    relevant: Relevance,
    /// Reported even when an ignore file covers them (the Hotfile).
    always: HashSet<PathBuf>,
    /// The Hotfile's common `ignore`: never walked, watched or read.
    ignore: Arc<Ignore>,
}

impl Scope {
    pub(super) fn new(relevant: Relevance, always: Vec<PathBuf>, ignore: Ignore) -> Scope {
        Scope {
            relevant,
            always: always.into_iter().collect(),
            ignore: Arc::new(ignore),
        }
    }

    pub(super) fn tracked(&self, rel: &Path) -> bool {
        // `always` holds the Hotfile or nothing: comparing with it is cheaper than hashing
        // every path a walk tracks (SipHash over `Path`'s components).
        let always = if self.always.len() <= 4 {
            self.always.iter().any(|a| a == rel)
        } else {
            self.always.contains(rel)
        };
        always || (self.relevant)(rel)
    }

    pub(super) fn always(&self) -> &HashSet<PathBuf> {
        &self.always
    }

    pub(super) fn ignore(&self) -> &Arc<Ignore> {
        &self.ignore
    }

    /// After a Hotfile reload: the new relevance, and the new `ignore` if it changed.
    pub(super) fn set(&mut self, relevant: Relevance, ignore: Option<Ignore>) {
        self.relevant = relevant;
        if let Some(ignore) = ignore {
            self.ignore = Arc::new(ignore);
        }
    }
}
