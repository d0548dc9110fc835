//! Resolving image paths through the image's own symlinks (`/vmlinuz` → `boot/vmlinuz-…`,
//! `/lib` → `usr/lib`), using the manifest only: boot files are looked up as the booted
//! system would see them, never through the host.

use std::collections::VecDeque;

use super::Error;
use crate::stage::{EntryKind, Manifest, StagePath};

/// Symlinks followed before giving up (Linux's limit).
const MAX_HOPS: usize = 40;

/// Follows symlinks in every component of `path`; returns the first name of the regular
/// file it ends at (the entry whose bytes the staging tree holds).
pub(crate) fn regular_file(manifest: &Manifest, path: &str) -> Result<StagePath, Error> {
    let unresolved = || Error::Unresolved {
        path: path.to_owned(),
    };
    let mut rest: VecDeque<String> = split(path);
    let mut at = StagePath::root();
    let mut hops = 0;
    while let Some(comp) = rest.pop_front() {
        match comp.as_str() {
            "." => continue,
            ".." => {
                at = at.parent().unwrap_or_default();
                continue;
            }
            _ => {}
        }
        let next = at.join(&comp).map_err(|_| unresolved())?;
        match &manifest.get(&next).ok_or_else(unresolved)?.kind {
            EntryKind::Symlink { target } => {
                hops += 1;
                if hops > MAX_HOPS {
                    return Err(unresolved());
                }
                if target.starts_with('/') {
                    at = StagePath::root();
                }
                for c in split(target).into_iter().rev() {
                    rest.push_front(c);
                }
            }
            _ => at = next,
        }
    }
    manifest.content_path(&at).cloned().ok_or_else(unresolved)
}

fn split(path: &str) -> VecDeque<String> {
    path.split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::Entry;

    fn p(s: &str) -> StagePath {
        StagePath::new(s).expect("path")
    }

    #[test]
    fn follows_relative_absolute_and_directory_links() {
        let mut m = Manifest::new();
        m.insert(p("/usr"), Entry::directory(0, 0, 0o755))
            .expect("usr");
        m.insert(p("/usr/lib"), Entry::directory(0, 0, 0o755))
            .expect("lib");
        m.insert(p("/usr/lib/f"), Entry::file(0, 0, 0o644))
            .expect("f");
        let link = |t: &str| Entry::new(EntryKind::Symlink { target: t.into() }, 0, 0, 0o777);
        m.insert(p("/lib"), link("usr/lib")).expect("lib link");
        m.insert(p("/abs"), link("/lib/f")).expect("abs");
        m.insert(p("/usr/up"), link("../lib/./f")).expect("up");
        m.insert(p("/loop"), link("loop")).expect("loop");
        assert_eq!(
            regular_file(&m, "/lib/f").expect("resolves"),
            p("/usr/lib/f")
        );
        assert_eq!(regular_file(&m, "/abs").expect("resolves"), p("/usr/lib/f"));
        assert_eq!(
            regular_file(&m, "/usr/up").expect("resolves"),
            p("/usr/lib/f")
        );
        assert!(regular_file(&m, "/loop").is_err());
        assert!(regular_file(&m, "/usr/lib").is_err());
        assert!(regular_file(&m, "/missing").is_err());
    }
}
