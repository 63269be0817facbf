//! What is tracked: the Hotfile's relevance, its `always` files and its common `ignore`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::watch::config::{Ignore, Relevance};
use crate::watch::walk::plain;

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
        // every path a walk tracks (SipHash over `Path`'s components), and comparing bytes
        // cheaper than `Path`'s `==` (components parsed from the end of both, per path).
        let always = if self.always.len() <= 4 {
            self.always.iter().any(|a| same(a, rel))
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

/// `a == b` as `Path` compares them (by components). Two plain paths (no empty component,
/// none `.`: what walks and events build) are equal only when their bytes are.
fn same(a: &Path, b: &Path) -> bool {
    let (x, y) = (
        a.as_os_str().as_encoded_bytes(),
        b.as_os_str().as_encoded_bytes(),
    );
    if x == y {
        return true;
    }
    if plain(x) && plain(y) {
        return false;
    }
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte comparison gives what `Path`'s `==` gives, for plain paths and odd ones.
    #[test]
    fn an_always_file_compares_as_path_equality_does() {
        let paths = [
            "Hotfile",
            "./Hotfile",
            "Hotfile/",
            "Hotfile/.",
            "a/Hotfile",
            "a//Hotfile",
            "a/./Hotfile",
            "/a/Hotfile",
            "/a//Hotfile",
            "a/../Hotfile",
            "",
            ".",
            "a/b.rs",
            "src/m1/l1/f1.rs",
        ];
        for a in paths {
            for b in paths {
                let (a, b) = (Path::new(a), Path::new(b));
                assert_eq!(same(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }
}
