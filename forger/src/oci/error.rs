//! Errors of OCI layouts and registry transfers. No variant carries a credential: URLs are
//! built without userinfo and auth headers never reach an error.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

/// A failure while writing an OCI layout or talking to a registry.
#[derive(Debug, Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// The image configuration cannot be expressed as an OCI config.
    #[error("invalid OCI image configuration: {reason}")]
    #[diagnostic(
        code(forger::oci::config),
        help("os must be `linux` or `solaris`, architecture `amd64` or `arm64`")
    )]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// Serialising or parsing JSON (config, manifest, index, auth file).
    #[error("bad JSON in {what}")]
    #[diagnostic(
        code(forger::oci::json),
        help("the file is not the JSON document expected there")
    )]
    Json {
        /// Which document.
        what: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A host I/O failure.
    #[error("I/O error on `{}`", path.display())]
    #[diagnostic(code(forger::oci::io), help("check the path exists and is writable"))]
    Io {
        /// The host path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Writing the layer.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Archive(#[from] crate::archive::Error),
    /// An OCI layout on disk is not usable.
    #[error("OCI layout `{}` is not usable: {reason}", path.display())]
    #[diagnostic(
        code(forger::oci::layout),
        help("pass the `<name>-oci` directory Forger wrote (with oci-layout, index.json, blobs/)")
    )]
    Layout {
        /// The layout directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A reference that cannot be parsed.
    #[error("`{reference}` is not an image reference: {reason}")]
    #[diagnostic(
        code(forger::oci::reference),
        help(
            "write references as `registry/repository:tag` or `registry/repository@sha256:…`, optionally prefixed `oci://`"
        )
    )]
    Reference {
        /// The text given.
        reference: String,
        /// Why it was rejected.
        reason: String,
    },
    /// An auth file that cannot be used.
    #[error("auth file `{}` is not usable: {reason}", path.display())]
    #[diagnostic(
        code(forger::oci::auth_file),
        help(r#"write either {{"username": "…", "password": "…"}} or {{"token": "…"}}"#)
    )]
    AuthFile {
        /// The file.
        path: PathBuf,
        /// What is wrong (never its contents).
        reason: String,
    },
    /// The registry refused the credentials (or demanded some and none were found).
    #[error("registry `{registry}` refused access to `{repository}` (credentials from {origin})")]
    #[diagnostic(
        code(forger::oci::unauthorized),
        help(
            "check the username/password or token; sources tried in order: --auth-file, docker config.json, GITHUB_TOKEN (ghcr.io only), FORGER_OCI_BEARER, anonymous"
        )
    )]
    Unauthorized {
        /// Registry host.
        registry: String,
        /// Repository.
        repository: String,
        /// Where the credentials came from (`--auth-file`, `docker config`, `anonymous`, …).
        origin: String,
    },
    /// The registry answered with an error status.
    #[error("registry answered {status} to {method} {url}: {message}")]
    #[diagnostic(
        code(forger::oci::registry),
        help("the registry's message says why; check the reference and the registry's limits")
    )]
    Registry {
        /// HTTP method.
        method: String,
        /// URL (without credentials).
        url: String,
        /// HTTP status.
        status: u16,
        /// The registry's error body, shortened.
        message: String,
    },
    /// The connection failed (after retries where the request is retryable).
    #[error("could not reach {url} after {attempts} attempt(s)")]
    #[diagnostic(
        code(forger::oci::unreachable),
        help(
            "check that the registry is running and reachable; plain HTTP is used only for localhost or --insecure-registry hosts"
        )
    )]
    Unreachable {
        /// URL (without credentials).
        url: String,
        /// How many times it was tried.
        attempts: u32,
        /// The last transport error.
        #[source]
        source: reqwest::Error,
    },
    /// A blob or manifest whose bytes do not hash to the digest it was named by.
    #[error("{what}: expected {expected}, got {actual}")]
    #[diagnostic(
        code(forger::oci::digest_mismatch),
        help("the registry or the transfer corrupted the content; nothing was kept — retry")
    )]
    DigestMismatch {
        /// What was checked.
        what: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// An upload that could not be completed within the retry budget.
    #[error("upload of {digest} to {repository} failed after {attempts} attempt(s): {reason}")]
    #[diagnostic(
        code(forger::oci::upload),
        help(
            "the registry kept failing; nothing was tagged. Run the push again: blobs already uploaded are skipped"
        )
    )]
    Upload {
        /// The blob.
        digest: String,
        /// Repository.
        repository: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
    /// The async runtime for the sync facade could not start.
    #[error("could not start the async runtime")]
    #[diagnostic(
        code(forger::oci::runtime),
        help("the system is out of threads or memory")
    )]
    Runtime {
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// oci-client reported an error (manifest push/pull).
    #[error("registry client error on {reference}: {message}")]
    #[diagnostic(
        code(forger::oci::client),
        help("see the message; check the reference and credentials")
    )]
    Client {
        /// The reference involved.
        reference: String,
        /// oci-client's message.
        message: String,
    },
}

impl Error {
    /// Wraps an I/O error with the host path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io { path, source }
    }

    /// Wraps a JSON error with the name of the document.
    pub(crate) fn json(what: impl Into<String>) -> impl FnOnce(serde_json::Error) -> Self {
        let what = what.into();
        move |source| Error::Json { what, source }
    }
}
