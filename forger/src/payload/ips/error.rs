//! Errors of the native IPS client: parsing (FMRIs, versions, actions, catalogs), repository
//! access, verification, resolution and installation.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

/// One reason a candidate version was rejected, for resolution failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    /// The rejected candidate FMRI (or the stem when nothing is in the catalog).
    pub candidate: String,
    /// Why: the constraint text, e.g. `incorporate 1.0 (from pkg://p/entire@…)`.
    pub because: String,
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} rejected: {}", self.candidate, self.because)
    }
}

fn list(blockers: &[Blocker]) -> String {
    blockers
        .iter()
        .map(|b| format!("\n  - {b}"))
        .collect::<String>()
}

/// A failure of the native IPS client.
#[derive(Debug, Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// A version string that is not `release[,build][-branch][:timestamp]`.
    #[error("bad IPS version `{version}` (at `{part}`)")]
    #[diagnostic(
        code(forger::ips::bad_version),
        help(
            "versions are dot sequences of integers without leading zeros, e.g. `1.2.0,5.11-151054.0:20250101T000000Z`"
        )
    )]
    BadVersion {
        /// The whole version text.
        version: String,
        /// The component that failed.
        part: String,
    },
    /// An FMRI that cannot be parsed.
    #[error("bad package FMRI `{fmri}`")]
    #[diagnostic(
        code(forger::ips::bad_fmri),
        help("write `pkg://publisher/name@version`, `pkg:/name@version` or `name`")
    )]
    BadFmri {
        /// The text given.
        fmri: String,
    },
    /// A manifest action line that does not follow the action grammar.
    #[error("bad manifest action at byte {offset}: {reason}: `{line}`")]
    #[diagnostic(
        code(forger::ips::bad_action),
        help("actions are `type [hash] key=value …`; quote values containing spaces")
    )]
    BadAction {
        /// The (joined) action line.
        line: String,
        /// Byte offset of the problem in the line.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A catalog file that is valid JSON but not a v1 catalog.
    #[error("catalog file `{part}` is malformed: {reason}")]
    #[diagnostic(
        code(forger::ips::bad_catalog),
        help("the repository's catalog is damaged; rebuild it with `pkgrepo rebuild`")
    )]
    BadCatalog {
        /// The catalog file name.
        part: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A catalog file that is not JSON.
    #[error("catalog file `{part}` is not valid JSON")]
    #[diagnostic(
        code(forger::ips::catalog_json),
        help("the download may be truncated; retry, or check the repository")
    )]
    CatalogJson {
        /// The catalog file name.
        part: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A catalog file whose SHA-1 does not match its signature.
    #[error("catalog file `{part}` has SHA-1 {actual}, its signature says {expected}")]
    #[diagnostic(
        code(forger::ips::catalog_signature),
        help(
            "the catalog was altered or truncated; refresh from the origin or rebuild the repository"
        )
    )]
    CatalogSignature {
        /// The catalog file name.
        part: String,
        /// Signed SHA-1.
        expected: String,
        /// SHA-1 of the bytes received.
        actual: String,
    },
    /// A manifest whose SHA-1 does not match the catalog.
    #[error("manifest of {fmri} has SHA-1 {actual}, the catalog says {expected}")]
    #[diagnostic(
        code(forger::ips::manifest_hash),
        help("the repository's manifest and catalog disagree; rebuild the repository catalog")
    )]
    ManifestHash {
        /// The package.
        fmri: String,
        /// SHA-1 from `catalog.base.C`.
        expected: String,
        /// SHA-1 of the bytes received.
        actual: String,
    },
    /// A payload that failed verification twice (the refetch did not help).
    #[error(
        "payload {hash} for `{path}` failed verification twice: {what} is {actual}, expected {expected}"
    )]
    #[diagnostic(
        code(forger::ips::payload_hash),
        help("the repository holds a corrupt file; ask its owner to run `pkgrepo verify`/`fix`")
    )]
    PayloadHash {
        /// The SHA-1 file name.
        hash: String,
        /// The image path being delivered.
        path: String,
        /// Which check failed (`sha1`, `file:sha512t_256`, `size`, `gzip`).
        what: &'static str,
        /// Expected value.
        expected: String,
        /// Value found.
        actual: String,
    },
    /// An origin URL with an unsupported scheme.
    #[error("unsupported IPS origin `{origin}`")]
    #[diagnostic(
        code(forger::ips::bad_origin),
        help("origins are `file:///path/to/repo`, `http://…` or `https://…`")
    )]
    BadOrigin {
        /// The origin as given.
        origin: String,
    },
    /// A `file://` repository that lacks `pkg5.repository` or the publisher.
    #[error("`{}` is not a pkg5 v4 repository for publisher `{publisher}`", root.display())]
    #[diagnostic(
        code(forger::ips::not_a_repository),
        help("create it with `pkgrepo create` and `pkgrepo add-publisher`, or fix the path")
    )]
    NotARepository {
        /// Repository root.
        root: PathBuf,
        /// Publisher asked for.
        publisher: String,
    },
    /// A host I/O failure (repository, cache or staging file).
    #[error("I/O error on `{}`", path.display())]
    #[diagnostic(code(forger::ips::io))]
    Io {
        /// The host path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An HTTP status other than 200 from a depot.
    #[error("depot answered {status} for {url}")]
    #[diagnostic(
        code(forger::ips::http_status),
        help("check the origin URL and the publisher name; 404 means the depot lacks that item")
    )]
    HttpStatus {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// An HTTP transport failure (connection, TLS, read).
    #[error("could not fetch {url}")]
    #[diagnostic(
        code(forger::ips::http),
        help("check that the depot is reachable from the build host")
    )]
    Http {
        /// The URL.
        url: String,
        /// The transport error.
        #[source]
        source: Box<ureq::Error>,
    },
    /// A PEM file (CA certificate, client certificate or key) that cannot be read.
    #[error("cannot read PEM file `{}`", path.display())]
    #[diagnostic(
        code(forger::ips::pem),
        help("give a PEM file with `-----BEGIN CERTIFICATE-----` (or `PRIVATE KEY`) blocks")
    )]
    Pem {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// The TLS configuration was rejected (bad CA, key not matching the certificate, …).
    #[error("cannot set up TLS for the HTTPS origin")]
    #[diagnostic(
        code(forger::ips::tls),
        help(
            "check that the client key matches its certificate and the CA files are CA certificates"
        )
    )]
    Tls {
        /// The TLS library's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A requested or required package that no publisher has.
    #[error("package `{stem}` (needed by {needed_by}) is in no configured publisher's catalog")]
    #[diagnostic(
        code(forger::ips::missing_package),
        help("check the name, add the publisher that has it, or drop the request")
    )]
    MissingPackage {
        /// The package name.
        stem: String,
        /// Who needs it (`request` or the depending FMRI).
        needed_by: String,
    },
    /// No version of a needed package satisfies every constraint.
    #[error("no version of `{stem}` (needed by {needed_by}) satisfies all constraints:{}", list(.blockers))]
    #[diagnostic(
        code(forger::ips::unresolvable),
        help("relax the incorporation or requested version, or publish a matching version")
    )]
    Unresolvable {
        /// The package name.
        stem: String,
        /// Who needs it.
        needed_by: String,
        /// Each candidate and the constraint that rejected it.
        blockers: Vec<Blocker>,
    },
    /// The resolver kept changing its choice.
    #[error("dependency resolution did not settle after {rounds} rounds")]
    #[diagnostic(
        code(forger::ips::no_convergence),
        help("the catalog has mutually exclusive constraints; pin versions in the request")
    )]
    NoConvergence {
        /// Rounds run.
        rounds: usize,
    },
    /// Two packages deliver different things at one path.
    #[error("`{path}` is delivered by both {first} and {second}")]
    #[diagnostic(
        code(forger::ips::conflict),
        help("drop one of the packages, or set `overlay=allow`/`overlay=true` in their manifests")
    )]
    Conflict {
        /// The image path.
        path: String,
        /// First package.
        first: String,
        /// Second package.
        second: String,
    },
    /// An action missing a required attribute.
    #[error("`{kind}` action in {fmri} lacks `{attr}`")]
    #[diagnostic(
        code(forger::ips::missing_attribute),
        help("the manifest is not installable as published; fix the package")
    )]
    MissingAttribute {
        /// The package.
        fmri: String,
        /// Action type.
        kind: String,
        /// The attribute.
        attr: &'static str,
    },
    /// An owner or group name that the image's passwd/group files do not define.
    #[error(
        "`{path}` is owned by {what} `{name}`, which the image's /etc/{what_file} does not define"
    )]
    #[diagnostic(
        code(forger::ips::unknown_owner),
        help("install the package that creates that user or group (its `user`/`group` action)")
    )]
    UnknownOwner {
        /// The image path.
        path: String,
        /// `user` or `group`.
        what: &'static str,
        /// `passwd` or `group`.
        what_file: &'static str,
        /// The name.
        name: String,
    },
    /// A hard link whose target the packages do not deliver.
    #[error(
        "hard link `{path}` in {fmri} points at `{target}`, which no package delivers as a file"
    )]
    #[diagnostic(
        code(forger::ips::bad_hardlink),
        help("the package set is incomplete; add the package delivering the target")
    )]
    BadHardlink {
        /// Link path.
        path: String,
        /// Target path.
        target: String,
        /// Package.
        fmri: String,
    },
    /// `--ips-client pkg` on a host without `pkg(1)`.
    #[error("`pkg` was asked for, but there is no `pkg` program on PATH")]
    #[diagnostic(
        code(forger::ips::pkg_missing),
        help("pkg(1) exists on illumos hosts; elsewhere use `--ips-client native` (the default)")
    )]
    PkgMissing,
    /// An install request without any publisher.
    #[error("the IPS install has no publisher")]
    #[diagnostic(
        code(forger::ips::no_publisher),
        help("add `publisher name=\"…\" origin=\"…\"` to repositories")
    )]
    NoPublisher,
    /// `pkg` could not be started.
    #[error("cannot run `{}`", program.display())]
    #[diagnostic(code(forger::ips::pkg_spawn))]
    PkgSpawn {
        /// The program.
        program: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `pkg` exited with an error.
    #[error("`{command}` failed ({status}): {stderr}")]
    #[diagnostic(
        code(forger::ips::pkg_failed),
        help("pkg's own message is above; `--ips-client native` uses Forger's client instead")
    )]
    PkgFailed {
        /// The pkg command line (no secrets: certificates are passed as paths).
        command: String,
        /// `exit N` or `a signal`.
        status: String,
        /// pkg's standard error.
        stderr: String,
    },
    /// The image pkg made lacks what an image-format-4 image holds.
    #[error("pkg's image is unreadable at `{}`: {reason}", path.display())]
    #[diagnostic(code(forger::ips::pkg_image))]
    PkgImage {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The staging tree refused an operation.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Stage(#[from] crate::stage::Error),
}

impl Error {
    /// Wraps an I/O error with the host path it concerns.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
