//! Finding a node's program before it is spawned: through the shim, a missing program would
//! only show as exit 127.
//!
//! A PATH search is a `stat` per PATH directory (15 on a developer's PATH, 0.1 ms on the main
//! thread), on the path from a save to the command. So [`Programs`] keeps what the last search
//! found: a start takes it after one `stat` that shows it is still an executable file, and the
//! instance's monitor searches again off the path (when it refills the spare, or after the
//! command's exit: see `spare::Refill`). A program installed since into an earlier PATH
//! directory is run from the next start on; one removed is searched for at once.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::model::Text;
use crate::program::{executable, on_path, path_in};

/// What the last PATH search of each program found, by (program, directory, the node's own
/// `PATH`): the answer of [`find_program`] for the same three. Shared with the monitors.
#[derive(Clone, Default)]
pub(super) struct Programs(Arc<Mutex<HashMap<Key, PathBuf>>>);

type Key = (OsString, PathBuf, Option<String>);

/// A program a start took from memory, to search for again after the start (see [`Programs`]).
pub(super) struct Recheck {
    programs: Programs,
    key: Key,
}

impl Programs {
    fn map(&self) -> MutexGuard<'_, HashMap<Key, PathBuf>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// [`find_program`], from memory when the program found last time is still executable;
    /// then the [`Recheck`] to run once the start is on its way.
    pub(super) fn find(
        &self,
        program: &OsStr,
        dir: &Path,
        env: &[(Text, Text)],
    ) -> (Result<PathBuf, String>, Option<Recheck>) {
        if program.as_encoded_bytes().contains(&b'/') {
            return (find_program(program, dir, env), None);
        }
        let key: Key = (
            program.to_owned(),
            dir.to_owned(),
            path_in(env).map(str::to_owned),
        );
        let known = self.map().get(&key).cloned();
        if let Some(known) = known.filter(|p| executable(p)) {
            let programs = self.clone();
            return (Ok(known), Some(Recheck { programs, key }));
        }
        let found = find_program(program, dir, env);
        self.remember(key, &found);
        (found, None)
    }

    fn remember(&self, key: Key, found: &Result<PathBuf, String>) {
        let mut map = self.map();
        match found {
            Ok(path) => {
                map.insert(key, path.clone());
            }
            Err(_) => {
                map.remove(&key);
            }
        }
    }
}

impl Recheck {
    /// Searches PATH again for a program a start took from memory, for the next start.
    pub(super) fn run(self) {
        let Recheck { programs, key } = self;
        let (program, dir, path) = &key;
        let env: Vec<(Text, Text)> = path
            .iter()
            .map(|p| ("PATH".into(), p.as_str().into()))
            .collect();
        let found = find_program(program, dir, &env);
        programs.remember(key, &found);
    }
}

/// Resolves `program` the way execvp will (relative to `dir`, or on the child's PATH).
pub(super) fn find_program(
    program: &OsStr,
    dir: &Path,
    env: &[(Text, Text)],
) -> Result<PathBuf, String> {
    let shown = program.to_string_lossy();
    let path = Path::new(program);
    if path.components().count() > 1 || shown.contains('/') {
        let full = dir.join(path);
        return if executable(&full) {
            Ok(full)
        } else if full.exists() {
            Err(format!(
                "`{shown}` is not an executable file: check its permissions (chmod +x)"
            ))
        } else {
            Err(format!(
                "`{shown}` not found in `{}`: has it been built yet? (is the path right?)",
                dir.display()
            ))
        };
    }
    on_path(program, dir, env)
        .ok_or_else(|| format!("`{shown}` not found: is it installed and on PATH?"))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn programs_are_found_like_execvp() {
        let tmp = tempfile::tempdir().unwrap();
        let app = tmp.path().join("app");
        std::fs::write(&app, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&app, std::fs::Permissions::from_mode(0o755)).unwrap();
        let data = tmp.path().join("data");
        std::fs::write(&data, "").unwrap();

        assert_eq!(
            find_program("./app".as_ref(), tmp.path(), &[]),
            Ok(app.clone())
        );
        let err = find_program("./data".as_ref(), tmp.path(), &[]).unwrap_err();
        assert!(err.contains("chmod +x"), "{err}");
        let err = find_program("./nope".as_ref(), tmp.path(), &[]).unwrap_err();
        assert!(err.contains("not found"), "{err}");

        let path: Vec<(Text, Text)> =
            vec![("PATH".into(), tmp.path().display().to_string().into())];
        assert_eq!(find_program("app".as_ref(), Path::new("/"), &path), Ok(app));
        let err = find_program("cargo-foo".as_ref(), Path::new("/"), &path).unwrap_err();
        assert_eq!(err, "`cargo-foo` not found: is it installed and on PATH?");
        assert!(find_program("sh".as_ref(), Path::new("/"), &[]).is_ok());
    }

    /// A program found on PATH is taken from memory while it is still there, a program put
    /// into an earlier PATH directory is found by the search after that start, and a program
    /// removed is searched for at once.
    #[test]
    fn a_remembered_program_is_rechecked_after_the_start_and_dropped_once_gone() {
        let tmp = tempfile::tempdir().unwrap();
        let (early, late) = (tmp.path().join("early"), tmp.path().join("late"));
        std::fs::create_dir_all(&early).unwrap();
        std::fs::create_dir_all(&late).unwrap();
        let install = |dir: &Path| {
            let app = dir.join("app");
            std::fs::write(&app, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&app, std::fs::Permissions::from_mode(0o755)).unwrap();
            app
        };
        let path = std::env::join_paths([&early, &late]).unwrap();
        let env: Vec<(Text, Text)> = vec![("PATH".into(), path.into_string().unwrap().into())];
        let programs = Programs::default();
        let app = OsStr::new("app");
        let in_late = install(&late);

        let (found, recheck) = programs.find(app, tmp.path(), &env);
        assert_eq!(found, Ok(in_late.clone()));
        assert!(recheck.is_none(), "the first start searched");

        let in_early = install(&early);
        let (found, recheck) = programs.find(app, tmp.path(), &env);
        assert_eq!(found, Ok(in_late.clone()), "taken from memory");
        recheck.expect("from memory, so searched again after").run();
        let (found, _) = programs.find(app, tmp.path(), &env);
        assert_eq!(
            found,
            Ok(in_early.clone()),
            "the search after the last start found it"
        );

        std::fs::remove_file(&in_early).unwrap();
        let (found, recheck) = programs.find(app, tmp.path(), &env);
        assert_eq!(
            found,
            Ok(in_late.clone()),
            "gone from memory's place: searched at once"
        );
        assert!(recheck.is_none());
        std::fs::remove_file(&in_late).unwrap();
        let (found, _) = programs.find(app, tmp.path(), &env);
        assert!(found.is_err(), "{found:?}");
    }
}
