//! Composition loading: reads a spec file, follows its `base` and `include` links (each
//! linked file loaded fully, recursively), and assembles the model's [`Image`] /
//! [`Fragment`] tree. Nothing is merged here — see the crate docs for the rules
//! `forger::plan` applies to this tree.
//!
//! Every file is named twice: its *display* path (as the user or the declaring file wrote it,
//! lexically joined; used in reports so they read the same on every machine) and its
//! *canonical* path (used for identity: cycle detection, diamond merging, `base_dir`).

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use forger::model::{Fragment, Image};
use kdl::KdlDocument;
use miette::{NamedSource, SourceSpan};

use crate::decode::{self, FileSpec, Link};
use crate::error::{Error, Problem, SyntaxProblem};

/// A file's two names.
#[derive(Debug, Clone)]
struct FileId {
    display: PathBuf,
    canonical: PathBuf,
}

/// Loads one root spec and everything it links to.
pub(crate) struct Loader {
    /// Links must resolve inside this directory (the root spec's, canonical).
    root_dir: PathBuf,
    /// The same directory as reports show it.
    root_display: PathBuf,
    /// The chain of files being loaded, for cycle detection.
    stack: Vec<FileId>,
    /// Files already composed as includes, by canonical path (diamonds are read once).
    fragments: HashMap<PathBuf, Fragment>,
    /// Files already composed as bases, by canonical path.
    images: HashMap<PathBuf, Image>,
}

impl Loader {
    /// Loads the root spec at `path` from disk.
    pub(crate) fn load(path: &Path) -> Result<Image, Error> {
        let (mut loader, id, text) = Self::open(path)?;
        loader.image(&id, text)
    }

    /// Loads the includable file at `path` (metadata optional) from disk.
    pub(crate) fn load_fragment(path: &Path) -> Result<Fragment, Error> {
        let (mut loader, id, text) = Self::open(path)?;
        loader.include(&id, text)
    }

    fn open(path: &Path) -> Result<(Loader, FileId, String), Error> {
        let read = |source| Error::Read {
            path: path.to_path_buf(),
            source,
        };
        let text = std::fs::read_to_string(path).map_err(read)?;
        let canonical = path.canonicalize().map_err(read)?;
        let (loader, id) = Self::new(path, canonical);
        Ok((loader, id, text))
    }

    /// Loads a root spec from text; `name` is its path (links resolve next to it; it need
    /// not exist).
    pub(crate) fn load_str(name: &Path, text: &str) -> Result<Image, Error> {
        let canonical = name
            .canonicalize()
            .or_else(|_| std::path::absolute(name))
            .unwrap_or_else(|_| name.to_path_buf());
        Self::load_text(name, canonical, text.to_owned())
    }

    fn load_text(display: &Path, canonical: PathBuf, text: String) -> Result<Image, Error> {
        let (mut loader, id) = Self::new(display, canonical);
        loader.image(&id, text)
    }

    fn new(display: &Path, canonical: PathBuf) -> (Loader, FileId) {
        let root_dir = canonical
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let root_display = match display.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let loader = Loader {
            root_dir,
            root_display,
            stack: Vec::new(),
            fragments: HashMap::new(),
            images: HashMap::new(),
        };
        let id = FileId {
            display: display.to_path_buf(),
            canonical,
        };
        (loader, id)
    }

    fn image(&mut self, id: &FileId, text: String) -> Result<Image, Error> {
        if let Some(image) = self.images.get(&id.canonical) {
            return Ok(image.clone());
        }
        let (spec, text, mut problems) = parse(id, text)?;
        self.stack.push(id.clone());
        let base = spec.base.as_ref().and_then(|link| {
            let child = self.resolve(id, link, &mut problems)?;
            let text = self.read(&child, link, "used as base", &mut problems)?;
            match self.image(&child, text) {
                Ok(image) => Some(image),
                Err(e) => {
                    problems.push(composed(&child, link.span, "used as base", e));
                    None
                }
            }
        });
        let includes = self.includes(id, &spec.includes, &mut problems);
        self.stack.pop();
        if spec.metadata.is_none() {
            problems.insert(
                0,
                Problem::MissingMetadata {
                    span: SourceSpan::from(0..0),
                },
            );
        }
        if !problems.is_empty() {
            return Err(invalid(id, text, problems));
        }
        let metadata = spec
            .metadata
            .expect("a spec without metadata was reported above");
        let image = Image {
            metadata,
            distro: spec.distro,
            architecture: spec.architecture,
            base: base.map(Box::new),
            build_host: spec.build_host,
            content: fragment(id, spec.content, includes),
            targets: spec.targets,
            builder_vm: spec.builder,
        };
        self.images.insert(id.canonical.clone(), image.clone());
        Ok(image)
    }

    fn include(&mut self, id: &FileId, text: String) -> Result<Fragment, Error> {
        if let Some(f) = self.fragments.get(&id.canonical) {
            return Ok(f.clone());
        }
        let (spec, text, mut problems) = parse(id, text)?;
        if let Some(link) = &spec.base {
            problems.push(Problem::BaseInInclude { span: link.span });
        }
        self.stack.push(id.clone());
        let includes = self.includes(id, &spec.includes, &mut problems);
        self.stack.pop();
        if !problems.is_empty() {
            return Err(invalid(id, text, problems));
        }
        let f = fragment(id, spec.content, includes);
        self.fragments.insert(id.canonical.clone(), f.clone());
        Ok(f)
    }

    fn includes(
        &mut self,
        id: &FileId,
        links: &[Link],
        problems: &mut Vec<Problem>,
    ) -> Vec<Fragment> {
        let mut out = Vec::new();
        for link in links {
            let Some(child) = self.resolve(id, link, problems) else {
                continue;
            };
            let Some(text) = self.read(&child, link, "included", problems) else {
                continue;
            };
            match self.include(&child, text) {
                Ok(f) => out.push(f),
                Err(e) => problems.push(composed(&child, link.span, "included", e)),
            }
        }
        out
    }

    /// Resolves a link against the declaring file; records not-found, outside-tree and
    /// cycle problems.
    fn resolve(&self, from: &FileId, link: &Link, problems: &mut Vec<Problem>) -> Option<FileId> {
        let written = Path::new(&link.path);
        let display = normalize(&from.display.parent().unwrap_or(Path::new("")).join(written));
        let joined = from
            .canonical
            .parent()
            .unwrap_or(Path::new("/"))
            .join(written);
        let canonical = match joined.canonicalize() {
            Ok(c) => c,
            Err(_) => {
                problems.push(Problem::NotFound {
                    written: link.path.clone(),
                    resolved: display,
                    span: link.span,
                    help:
                        "paths of `base` and `include` are relative to the file that declares them"
                            .to_owned(),
                });
                return None;
            }
        };
        if !canonical.starts_with(&self.root_dir) {
            problems.push(Problem::OutsideTree {
                written: link.path.clone(),
                resolved: display,
                root: self.root_display.clone(),
                span: link.span,
                help: "keep composed specs in the root spec's directory or below it".to_owned(),
            });
            return None;
        }
        if let Some(pos) = self.stack.iter().position(|f| f.canonical == canonical) {
            let chain = self.stack[pos..]
                .iter()
                .map(|f| f.display.display().to_string())
                .chain(std::iter::once(display.display().to_string()))
                .collect::<Vec<_>>()
                .join(" → ");
            problems.push(Problem::Cycle {
                chain,
                span: link.span,
            });
            return None;
        }
        Some(FileId { display, canonical })
    }

    /// Reads a linked file; an unreadable one is a problem of the declaring file.
    fn read(
        &self,
        id: &FileId,
        link: &Link,
        how: &'static str,
        problems: &mut Vec<Problem>,
    ) -> Option<String> {
        match std::fs::read_to_string(&id.canonical) {
            Ok(t) => Some(t),
            Err(source) => {
                let e = Error::Read {
                    path: id.display.clone(),
                    source,
                };
                problems.push(composed(id, link.span, how, e));
                None
            }
        }
    }
}

/// How deep `{` blocks and `/*` comments may nest. Specs nest four levels at most; the KDL
/// parser recurses per level, so absurd depths would exhaust the stack (found by fuzzing).
const MAX_NESTING: usize = 64;

/// The offset of the first `{` or `/*` nested deeper than [`MAX_NESTING`], outside quoted
/// strings (a cheap over-approximation: raw strings are not told apart).
fn too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let (mut depth, mut i, mut in_string) = (0usize, 0, false);
    while i < bytes.len() {
        let pair = (bytes[i], bytes.get(i + 1).copied());
        if in_string {
            match pair.0 {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match pair {
                (b'"', _) => in_string = true,
                (b'/', Some(b'/')) => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                }
                (b'{', _) | (b'/', Some(b'*')) => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Some(i);
                    }
                    i += usize::from(pair.0 == b'/');
                }
                (b'}', _) => depth = depth.saturating_sub(1),
                (b'*', Some(b'/')) => {
                    depth = depth.saturating_sub(1);
                    i += 1;
                }
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// Parses and decodes one file's text.
fn parse(id: &FileId, text: String) -> Result<(FileSpec, Arc<String>, Vec<Problem>), Error> {
    let text = Arc::new(text);
    if let Some(offset) = too_deep(&text) {
        return Err(Error::Syntax {
            path: id.display.clone(),
            problems: vec![SyntaxProblem {
                message: format!("blocks or comments nest deeper than {MAX_NESTING} levels"),
                span: SourceSpan::from(offset..offset + 1),
                label: "too deep".to_owned(),
                help: Some("look for an unclosed `{` or `/*` before this point".to_owned()),
            }],
            src: source(id, text),
        });
    }
    match KdlDocument::parse(&text) {
        Ok(doc) => {
            let (spec, problems) = decode::decode(&doc);
            Ok((spec, text, problems))
        }
        Err(e) => Err(Error::Syntax {
            path: id.display.clone(),
            src: source(id, text),
            problems: e
                .diagnostics
                .into_iter()
                .map(|d| SyntaxProblem {
                    message: d.message.unwrap_or_else(|| "invalid KDL".to_owned()),
                    span: d.span,
                    label: d.label.unwrap_or_else(|| "here".to_owned()),
                    help: d.help,
                })
                .collect(),
        }),
    }
}

fn source(id: &FileId, text: Arc<String>) -> NamedSource<Arc<String>> {
    NamedSource::new(id.display.display().to_string(), text).with_language("kdl")
}

fn invalid(id: &FileId, text: Arc<String>, mut problems: Vec<Problem>) -> Error {
    problems.sort_by_key(Problem::offset);
    Error::Invalid {
        path: id.display.clone(),
        src: source(id, text),
        problems,
    }
}

fn composed(id: &FileId, span: SourceSpan, how: &'static str, e: Error) -> Problem {
    Problem::InComposedFile {
        path: id.display.clone(),
        how,
        span,
        errors: vec![e],
    }
}

/// The model fragment of a file: its content, named by its canonical path, with its
/// directory as `base_dir`.
fn fragment(id: &FileId, content: Fragment, includes: Vec<Fragment>) -> Fragment {
    Fragment {
        name: Some(id.canonical.display().to_string()),
        base_dir: id.canonical.parent().map(Path::to_path_buf),
        includes,
        ..content
    }
}

/// Lexically removes `.` and resolvable `..` components (for display paths only).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                let last_is_normal =
                    matches!(out.components().next_back(), Some(Component::Normal(_)));
                if last_is_normal {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_guard() {
        assert_eq!(too_deep("a { b { c } }"), None);
        let deep = "a {".repeat(MAX_NESTING + 1);
        assert_eq!(too_deep(&deep), Some(deep.len() - 1));
        let comments = "/*".repeat(MAX_NESTING + 1);
        assert!(too_deep(&comments).is_some());
        let quoted = format!("a \"{}\"", "{".repeat(1000));
        assert_eq!(too_deep(&quoted), None);
        let commented = format!("// {}\na", "{".repeat(1000));
        assert_eq!(too_deep(&commented), None);
        let balanced = "a { }\n".repeat(1000);
        assert_eq!(too_deep(&balanced), None);
    }
}
