//! Finding a node's program before it is spawned: through the shim, a missing program would
//! only show as exit 127.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::program::{executable, on_path};

/// Resolves `program` the way execvp will (relative to `dir`, or on the child's PATH).
pub(super) fn find_program(
    program: &OsStr,
    dir: &Path,
    env: &[(String, String)],
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

        let path = vec![("PATH".to_string(), tmp.path().display().to_string())];
        assert_eq!(find_program("app".as_ref(), Path::new("/"), &path), Ok(app));
        let err = find_program("cargo-foo".as_ref(), Path::new("/"), &path).unwrap_err();
        assert_eq!(err, "`cargo-foo` not found: is it installed and on PATH?");
        assert!(find_program("sh".as_ref(), Path::new("/"), &[]).is_ok());
    }
}
