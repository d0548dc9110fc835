//! Build-script support: turn a KDL spec into Rust at build time. A crate's `build.rs`
//! calls [`compile`]; the spec is imported into the typed model, written as DSL source with
//! [`crate::codegen::to_rust`] to `$OUT_DIR/<spec stem>.rs`, and Cargo is told to rerun when
//! the spec or any file it pulls in (includes, the base chain) changes. A bad spec fails the
//! build with one `file:line:col: message` line per problem.
//!
//! ```text
//! // build.rs
//! fn main() -> Result<(), kdl_compat::build::BuildError> {
//!     kdl_compat::build::compile("specs/omnios-rust-ci.kdl")?;
//!     Ok(())
//! }
//! // src/main.rs
//! include!(concat!(env!("OUT_DIR"), "/omnios-rust-ci.rs"));
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use forger::model::{Fragment, Image};
use miette::Diagnostic;

/// A spec that did not load, or a generated file that could not be written.
#[derive(thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum BuildError {
    /// The spec has problems; each line is `file:line:col: message`.
    #[error("{}", lines.join("\n"))]
    #[diagnostic(
        code(forger::kdl_build::bad_spec),
        help(
            "fix the spec at the places shown; `forger validate --spec FILE` shows the same problems"
        )
    )]
    BadSpec {
        /// One `file:line:col: message` per problem.
        lines: Vec<String>,
    },
    /// `OUT_DIR` is not set: not running inside a build script.
    #[error("OUT_DIR is not set")]
    #[diagnostic(
        code(forger::kdl_build::no_out_dir),
        help("call kdl_compat::build::compile from build.rs, where Cargo sets OUT_DIR")
    )]
    NoOutDir,
    /// The generated file could not be written.
    #[error("cannot write {path}: {source}")]
    #[diagnostic(
        code(forger::kdl_build::write),
        help("check that the build directory is writable and has space")
    )]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl fmt::Debug for BuildError {
    /// The same as `Display`, so a `build.rs` returning the error prints the locations.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Loads `spec` with [`crate::load`] and writes its DSL source to `$OUT_DIR`; see the module
/// documentation.
pub fn compile(spec: impl AsRef<Path>) -> Result<PathBuf, BuildError> {
    compile_with(spec.as_ref(), |p: &Path| crate::load(p))
}

/// [`compile`] with the loader given: loads `spec`, writes `$OUT_DIR/<stem>.rs`, prints
/// `cargo:rerun-if-changed` for the spec and every spec it pulls in, and returns the path
/// written.
pub fn compile_with<E, L>(spec: &Path, load: L) -> Result<PathBuf, BuildError>
where
    E: Diagnostic,
    L: FnOnce(&Path) -> Result<Image, E>,
{
    let out_dir = std::env::var_os("OUT_DIR").ok_or(BuildError::NoOutDir)?;
    compile_into(spec, Path::new(&out_dir), load, &mut std::io::stdout())
}

/// The body of [`compile_with`] with the output directory and the stream for Cargo's
/// instructions given (for tests).
pub fn compile_into<E, L>(
    spec: &Path,
    out_dir: &Path,
    load: L,
    cargo: &mut dyn std::io::Write,
) -> Result<PathBuf, BuildError>
where
    E: Diagnostic,
    L: FnOnce(&Path) -> Result<Image, E>,
{
    let mut watched = BTreeSet::new();
    watched.insert(spec.to_path_buf());
    let image = match load(spec) {
        Ok(image) => image,
        Err(e) => {
            for path in &watched {
                let _ = writeln!(cargo, "cargo:rerun-if-changed={}", path.display());
            }
            return Err(BuildError::BadSpec {
                lines: problem_lines(&e, spec),
            });
        }
    };
    spec_files(&image, &mut watched);
    let stem = spec
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".to_owned());
    let path = out_dir.join(format!("{stem}.rs"));
    let tmp = out_dir.join(format!(".{stem}.rs.tmp"));
    let source = crate::codegen::to_rust(&image);
    std::fs::write(&tmp, source)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|source| BuildError::Write {
            path: path.clone(),
            source,
        })?;
    for file in &watched {
        let _ = writeln!(cargo, "cargo:rerun-if-changed={}", file.display());
    }
    Ok(path)
}

/// The spec files an image was read from: the names of its fragments that are paths of
/// existing files (the KDL importer names a fragment by its canonical path), through the
/// includes and the base chain.
fn spec_files(image: &Image, out: &mut BTreeSet<PathBuf>) {
    fragment_files(&image.content, out);
    if let Some(base) = &image.base {
        spec_files(base, out);
    }
}

fn fragment_files(f: &Fragment, out: &mut BTreeSet<PathBuf>) {
    if let Some(name) = &f.name {
        let p = Path::new(name);
        if p.is_absolute() && p.is_file() {
            out.insert(p.to_path_buf());
        }
    }
    for inc in &f.includes {
        fragment_files(inc, out);
    }
}

/// `file:line:col: message` for a diagnostic and each of its related ones.
fn problem_lines(diag: &dyn Diagnostic, spec: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    let related: Vec<&dyn Diagnostic> = diag.related().map(Iterator::collect).unwrap_or_default();
    if related.is_empty() {
        lines.push(problem_line(diag, None, spec));
    } else {
        for r in related {
            lines.push(problem_line(r, diag.source_code(), spec));
        }
    }
    lines
}

fn problem_line(
    diag: &dyn Diagnostic,
    parent_source: Option<&dyn miette::SourceCode>,
    spec: &Path,
) -> String {
    let mut file = spec.display().to_string();
    let (mut line, mut col) = (1, 1);
    let label = diag.labels().and_then(|mut l| l.next());
    let source = diag.source_code().or(parent_source);
    if let (Some(label), Some(source)) = (label, source)
        && let Ok(span) = source.read_span(label.inner(), 0, 0)
    {
        if let Some(name) = span.name() {
            file = name.to_owned();
        }
        line = span.line() + 1;
        col = span.column() + 1;
    }
    let mut text = format!("{file}:{line}:{col}: {diag}");
    if let Some(help) = diag.help() {
        text.push_str(&format!(" (help: {help})"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use forger::model::{Metadata, Target};
    use miette::{NamedSource, SourceSpan};

    #[derive(Debug, thiserror::Error, Diagnostic)]
    #[error("unknown node `pakages`")]
    #[diagnostic(help("did you mean `packages`?"))]
    struct Bad {
        #[source_code]
        src: NamedSource<String>,
        #[label("here")]
        at: SourceSpan,
    }

    #[test]
    fn a_bad_spec_fails_with_file_line_col() {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = "metadata name=\"x\" version=\"1\"\npakages {\n}\n".to_owned();
        let at = text.find("pakages").expect("in the text");
        let mut cargo = Vec::new();
        let err = compile_into(
            Path::new("specs/x.kdl"),
            dir.path(),
            |_| {
                Err::<Image, _>(Bad {
                    src: NamedSource::new("specs/x.kdl", text.clone()),
                    at: (at, 7).into(),
                })
            },
            &mut cargo,
        )
        .expect_err("the spec is bad");
        assert_eq!(
            err.to_string(),
            "specs/x.kdl:2:1: unknown node `pakages` (help: did you mean `packages`?)"
        );
        assert_eq!(
            String::from_utf8(cargo).expect("utf-8"),
            "cargo:rerun-if-changed=specs/x.kdl\n"
        );
    }

    #[test]
    fn a_good_spec_writes_the_source_and_watches_its_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let include = dir.path().join("common.kdl");
        std::fs::write(&include, "").expect("write the include");
        let image = Image::builder()
            .metadata(Metadata::builder().name("x").version("1").build())
            .content(
                Fragment::builder()
                    .includes(vec![
                        Fragment::builder()
                            .name(include.to_string_lossy().into_owned())
                            .build(),
                    ])
                    .build(),
            )
            .targets(vec![Target::artifact("rootfs")])
            .build();
        let mut cargo = Vec::new();
        let spec = dir.path().join("x.kdl");
        let out = compile_into(
            &spec,
            dir.path(),
            |_| Ok::<_, Bad>(image.clone()),
            &mut cargo,
        )
        .expect("compiles");
        assert_eq!(out, dir.path().join("x.rs"));
        let source = std::fs::read_to_string(&out).expect("written");
        assert!(source.contains("pub fn image() -> forger::model::Image"));
        let cargo = String::from_utf8(cargo).expect("utf-8");
        assert!(cargo.contains(&format!("cargo:rerun-if-changed={}", spec.display())));
        assert!(cargo.contains(&format!("cargo:rerun-if-changed={}", include.display())));
    }
}
