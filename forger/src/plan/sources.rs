//! Resolution of files that a spec references (overlay `source`, `certfile`): looked up in
//! `<dir>/files/<path>` and then `<dir>/<path>`, where `<dir>` is the declaring file's
//! directory, and never allowed to resolve outside `<dir>` (symlinks included).

use std::path::{Component, Path, PathBuf};

use super::Error;

/// Finds `given` for a spec whose directory is `base` (the working directory when `None`).
pub(crate) fn resolve(
    what: &'static str,
    given: &Path,
    base: Option<&Path>,
) -> Result<PathBuf, Error> {
    let base = match base {
        Some(b) => b.to_path_buf(),
        None => std::env::current_dir().map_err(|source| Error::Io {
            path: PathBuf::from("."),
            source,
        })?,
    };
    let escapes = || Error::SourceEscapes {
        what,
        given: given.to_path_buf(),
        base: base.clone(),
    };
    if given.is_absolute()
        || given
            .components()
            .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(escapes());
    }
    let tried = [base.join("files").join(given), base.join(given)];
    for candidate in &tried {
        if candidate.is_file() {
            let real = candidate.canonicalize().map_err(|source| Error::Io {
                path: candidate.clone(),
                source,
            })?;
            let real_base = base.canonicalize().map_err(|source| Error::Io {
                path: base.clone(),
                source,
            })?;
            if !real.starts_with(&real_base) {
                return Err(escapes());
            }
            return Ok(real);
        }
    }
    Err(Error::SourceNotFound {
        what,
        given: given.to_path_buf(),
        tried: tried.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_dir_first_then_the_spec_dir_and_never_outside() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("spec");
        std::fs::create_dir_all(base.join("files/etc")).unwrap();
        std::fs::write(base.join("files/etc/hosts"), "a").unwrap();
        std::fs::write(base.join("motd"), "b").unwrap();
        std::fs::write(dir.path().join("secret"), "c").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), base.join("link")).unwrap();
        let r = |p: &str| resolve("overlay source", Path::new(p), Some(&base));
        assert!(r("etc/hosts").unwrap().ends_with("files/etc/hosts"));
        assert!(r("motd").unwrap().ends_with("spec/motd"));
        assert!(matches!(r("../secret"), Err(Error::SourceEscapes { .. })));
        assert!(matches!(r("/etc/passwd"), Err(Error::SourceEscapes { .. })));
        assert!(matches!(r("link"), Err(Error::SourceEscapes { .. })));
        match r("nope") {
            Err(Error::SourceNotFound { tried, .. }) => assert_eq!(tried.len(), 2),
            other => panic!("{other:?}"),
        }
    }
}
