//! Import and export of the earlier tool's KDL specs to and from Forger's typed model.
//!
//! * [`load`] / [`load_str`]: a KDL v2 or v1 spec (and every file it links with `base` and
//!   `include`) → [`forger::model::Image`]. The decoder keeps spans, so every mistake is a
//!   miette report over the right file with a label and a help line, and all mistakes of a
//!   file come together (see [`Error`]).
//! * [`to_kdl`]: the model → KDL v2 text as a person would write it, which [`load_str`] reads
//!   back to an equal model.
//!
//! # The composed tree, and what `forger::plan` does with it
//! Loading does **not** merge. It returns the tree as written:
//! * `base "<path>"` → [`Image::base`](forger::model::Image::base): the base file loaded fully
//!   (its own base, includes and targets), `metadata` required there too.
//! * `include "<path>"` → a [`Fragment`](forger::model::Fragment) in `content.includes`, in
//!   order; an included file may omit `metadata`, and its `metadata`, `distro`,
//!   `architecture`, `build-host`, `builder` and `target`s are ignored (the merge rules take
//!   none of them from includes); a `base` in an included file is an error.
//! * Every image and fragment has `name` = its file's canonical path and `base_dir` = its
//!   file's directory; overlay `source` and `certfile` resolve against the declaring file's
//!   `base_dir` (`<dir>/files/<p>`, then `<dir>/<p>`) — the decoder already rejects absolute
//!   paths and leading `..` there.
//! * `distro`/`architecture` are kept as written (`None` when left out); `Image::distro()`
//!   inherits them through the base chain.
//! * `base`/`include` paths are relative to the declaring file and must resolve inside the
//!   **root** spec's directory tree; cycles are errors naming the chain.
//!
//! The plan then applies, and nobody else should: book order `[base chain] → [includes in
//! order, each resolved fully first] → [own blocks]` for packages, customizations and
//! overlays; fragments with the same `name` merged once (diamonds); publishers united by name
//! (the later, child/including spec wins the origin), APT mirrors by (url, suite), variants by
//! name (child wins), certificates by (publisher, certfile); incorporation from an include only
//! when the spec has none; targets never inherited from the base; a child's `builder`
//! replacing the base's whole; profiles (`if=`) filtered by the active `--profile`s.
//!
//! # Language notes
//! See `docs/kdl-language.md` of the project for the language. Beyond it, this crate accepts
//! (and [`to_kdl`] writes) spellings for the model's extensions: `architecture "arm64"`,
//! `facets { set name="doc.man" value=#false }`, `user "ci" uid=1000 gid=1000
//! shell="/bin/bash" home="/home/ci" create-home=#false password-hash="…" comment="…" {
//! group "sudo"; authorized-key "ssh-ed25519 …" }`, `file … content="inline text"`, disk
//! targets' `pool name="rpool" boot-environment="be" { property name= value=;
//! filesystem-property name= value=; dataset "export/home" { property … } }`,
//! `layout sector-size=4096 esp-size="512M" { partition "root" role="root" size="8G"
//! type-guid="…" }` and `compression "zstd"`, target kind `raw`, and OCI targets'
//! `entrypoint "a" "b"`, `cmd`, `env "K" "V"` (or `environment { set "K" "V" }`),
//! `label "k" "v"`, `annotation "k" "v"`, `port "80/tcp"`, `user "1000"`, `workdir "/app"`.
//! The corpus's `entrypoint command="/bin/app"` is the one-element vector `["/bin/app"]`
//! (no shell splitting); when both are given, `command` comes first. Blocks and `/*`
//! comments may nest at most 64 levels (deeper is a syntax error: the KDL parser recurses per
//! level).

#![warn(missing_docs)]

pub mod build;
pub mod codegen;

mod compose;
mod decode;
mod error;
mod export;
mod suggest;

use std::path::Path;

use forger::model::Image;

pub use error::{Error, Problem, Source, SyntaxProblem};
pub use export::{to_kdl, to_kdl_fragment};

/// Loads the spec at `path` (KDL v2, or v1) with every file it links, into the model.
///
/// Reports name the files as written (`path`, joined with the links' paths).
pub fn load(path: impl AsRef<Path>) -> Result<Image, Error> {
    compose::Loader::load(path.as_ref())
}

/// Loads a file meant for `include` (it may omit `metadata`; its `metadata`, `distro`,
/// targets, … are ignored as when included) with every file it includes. For `validate` of
/// shared files such as the corpus's `common.kdl`.
pub fn load_fragment(path: impl AsRef<Path>) -> Result<forger::model::Fragment, Error> {
    compose::Loader::load_fragment(path.as_ref())
}

/// Loads a spec from `text`, as if it were the file `name`: `base` and `include` resolve
/// next to `name` (which need not exist), and reports show `name`.
pub fn load_str(name: impl AsRef<Path>, text: &str) -> Result<Image, Error> {
    compose::Loader::load_str(name.as_ref(), text)
}
