//! The APT payload: a Debian or Ubuntu root filesystem made by `mmdebstrap`. As root
//! (`--mode=root`) mmdebstrap writes a directory beside the [`StagingTree`] whose files are
//! then renamed into it ([`StagingTree::adopt_dir`]): the host metadata is the image's, and
//! the 1.5 GB are written once. Otherwise (`--mode=unshare`) the host files would belong to
//! sub-uids the builder may not read, so mmdebstrap streams a tar archive on its stdout,
//! straight into the tree, and owners, modes, device nodes and xattrs come from the tar
//! headers. Either way nothing on the host has to carry the image's ownership afterwards.
//!
//! Downloaded `.deb` files are kept in a package cache directory shared between builds: a
//! setup hook copies the cache into the new root's `/var/cache/apt/archives` before apt
//! runs (apt then downloads only what is missing) and a customize hook copies the archives
//! back out. mmdebstrap's final cleanup still empties the directory in the image.
//!
//! mmdebstrap writes the mirrors it was given to the image's `/etc/apt/sources.list`, and
//! with `SOURCE_DATE_EPOCH` its tar output is bit-reproducible.

use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::thread;

use miette::Diagnostic;
use thiserror::Error;

use crate::stage::{StagingTree, TarImportStats};

/// Documented default mirror for Debian suites (override it with [`AptPayload::mirrors`]).
pub const DEBIAN_DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
/// Documented default mirror for Ubuntu suites (override it with [`AptPayload::mirrors`]).
pub const UBUNTU_DEFAULT_MIRROR: &str = "http://archive.ubuntu.com/ubuntu";
/// Where Debian's `ubuntu-keyring` package puts the Ubuntu archive key.
pub const UBUNTU_KEYRING: &str = "/usr/share/keyrings/ubuntu-archive-keyring.gpg";

/// How many trailing stderr lines of mmdebstrap are kept for an error report.
const STDERR_TAIL: usize = 25;

/// A failure while installing an APT payload.
#[derive(Debug, Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// `mmdebstrap` is not installed.
    #[error("`mmdebstrap` could not be started")]
    #[diagnostic(
        code(forger::apt::tool_missing),
        help(
            "install mmdebstrap (and uidmap for unshare mode): `apt-get install mmdebstrap uidmap`"
        )
    )]
    ToolMissing {
        /// Why it could not start.
        #[source]
        source: io::Error,
    },
    /// apt found no package of that name in the configured suites and components.
    #[error("package `{package}` is not available: {message}")]
    #[diagnostic(
        code(forger::apt::unknown_package),
        help(
            "check the spelling and that the package exists in suite and components of the mirrors (`apt-cache policy {package}` on a matching system)"
        )
    )]
    UnknownPackage {
        /// The package apt could not find.
        package: String,
        /// apt's error lines.
        message: String,
    },
    /// A mirror could not be reached or did not serve the suite.
    #[error("a mirror could not be used ({mirrors}): {message}")]
    #[diagnostic(
        code(forger::apt::mirror_unreachable),
        help(
            "check the mirror URL, suite and network access from the build machine; override the mirror if the default one is unreachable here"
        )
    )]
    MirrorUnreachable {
        /// The mirror lines given to mmdebstrap.
        mirrors: String,
        /// apt's / mmdebstrap's error lines.
        message: String,
    },
    /// mmdebstrap failed for another reason; `message` holds its own words.
    #[error("mmdebstrap failed ({status}): {message}")]
    #[diagnostic(
        code(forger::apt::mmdebstrap_failed),
        help(
            "the mmdebstrap messages above say why; run the same command by hand with --verbose to see more"
        )
    )]
    Failed {
        /// Its exit status.
        status: String,
        /// Its error lines, or the tail of its stderr.
        message: String,
    },
    /// The configuration cannot be passed to mmdebstrap.
    #[error("invalid APT payload setting `{field}`: {reason}")]
    #[diagnostic(code(forger::apt::bad_config), help("fix the payload's `{field}`"))]
    BadConfig {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A distribution id that names no known Debian or Ubuntu release.
    #[error("unknown distribution id `{id}`")]
    #[diagnostic(
        code(forger::apt::unknown_distro),
        help(
            "use debian-11, debian-12, debian-13, ubuntu-20.04, ubuntu-22.04 or ubuntu-24.04, or give the suite explicitly"
        )
    )]
    UnknownDistro {
        /// The id given.
        id: String,
    },
    /// The cache directory could not be created.
    #[error("package cache `{}` is not usable", path.display())]
    #[diagnostic(
        code(forger::apt::cache),
        help("choose a writable cache directory, or none")
    )]
    Cache {
        /// The cache directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A keyring could not be read or gathered for apt.
    #[error("keyring `{}` is not usable", path.display())]
    #[diagnostic(
        code(forger::apt::keyring),
        help("give readable keyring files (binary .gpg or ASCII-armoured)")
    )]
    Keyring {
        /// The keyring, or where it was being copied.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The base layer in the tree could not be written out for mmdebstrap.
    #[error("the base layer could not be handed to mmdebstrap")]
    #[diagnostic(
        code(forger::apt::base_layer),
        help("check the free space beside the output directory")
    )]
    BaseLayer {
        /// The underlying error.
        #[source]
        source: crate::archive::Error,
    },
    /// The tar stream from mmdebstrap could not be imported into the staging tree.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Stage(#[from] crate::stage::Error),
}

/// One APT source: `deb <url> <suite> <components…>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptMirror {
    /// Archive root URL, e.g. `http://deb.debian.org/debian`.
    pub url: String,
    /// Suite or codename, e.g. `bookworm` or `bookworm-updates`.
    pub suite: String,
    /// Components, e.g. `main`, `contrib`.
    pub components: Vec<String>,
}

impl AptMirror {
    /// A mirror line for `url`, `suite` and `components`.
    pub fn new(url: impl Into<String>, suite: impl Into<String>, components: &[&str]) -> Self {
        AptMirror {
            url: url.into(),
            suite: suite.into(),
            components: components.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    /// The one-line `sources.list` form mmdebstrap takes and writes to the image.
    pub fn line(&self) -> String {
        format!(
            "deb {} {} {}",
            self.url,
            self.suite,
            self.components.join(" ")
        )
    }
}

/// mmdebstrap's package-set variants (`--variant`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AptVariant {
    /// Only the `Essential: yes` packages, without apt.
    Essential,
    /// Essential packages plus apt (the smallest image that can install more).
    Apt,
    /// Essential packages plus apt (debootstrap's name for the same set).
    #[default]
    Minbase,
    /// Essential, apt and `Priority: required`.
    Required,
    /// Required plus `Priority: important` (debootstrap's default).
    Important,
    /// Important plus `Priority: standard`.
    Standard,
    /// Only the listed packages (no essential set).
    Custom,
}

impl AptVariant {
    /// The name mmdebstrap takes.
    pub fn as_str(self) -> &'static str {
        match self {
            AptVariant::Essential => "essential",
            AptVariant::Apt => "apt",
            AptVariant::Minbase => "minbase",
            AptVariant::Required => "required",
            AptVariant::Important => "important",
            AptVariant::Standard => "standard",
            AptVariant::Custom => "custom",
        }
    }
}

/// How mmdebstrap gets the privileges to install packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AptMode {
    /// `root` when the builder runs as root, `unshare` otherwise.
    #[default]
    Auto,
    /// `--mode=root`: the builder is root; packages are installed in a chroot.
    Root,
    /// `--mode=unshare`: a user namespace (needs `/etc/subuid` entries and `newuidmap`).
    Unshare,
}

impl AptMode {
    /// The mode passed to mmdebstrap; [`AptMode::Auto`] resolves by the effective uid.
    pub fn resolve(self) -> &'static str {
        match self {
            AptMode::Root => "root",
            AptMode::Unshare => "unshare",
            AptMode::Auto => {
                // `/proc/self` belongs to the effective uid of the process reading it.
                match fs::metadata("/proc/self") {
                    Ok(m) if m.uid() == 0 => "root",
                    _ => "unshare",
                }
            }
        }
    }
}

/// A Debian/Ubuntu root filesystem installed by mmdebstrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptPayload {
    /// The suite mmdebstrap bootstraps (codename, e.g. `bookworm`).
    pub suite: String,
    /// APT sources; the first is used to bootstrap, all are written to the image.
    pub mirrors: Vec<AptMirror>,
    /// Package-set variant.
    pub variant: AptVariant,
    /// Further packages to install (`--include`).
    pub packages: Vec<String>,
    /// Directory of downloaded `.deb`s reused across builds; `None` downloads every time.
    pub cache_dir: Option<PathBuf>,
    /// Privilege mode.
    pub mode: AptMode,
    /// Target architecture (`--architectures`); `None` is the host's.
    pub architecture: Option<String>,
    /// Keyrings to verify the mirrors with (`--keyring`); empty uses the host's defaults.
    pub keyrings: Vec<PathBuf>,
    /// `SOURCE_DATE_EPOCH` for mmdebstrap: clamps every mtime and makes the tar reproducible.
    pub source_date_epoch: Option<i64>,
    /// Also keep mmdebstrap's tar stream in this file (for inspection with `tar -tv`); this
    /// takes the tar path even as root.
    pub keep_tar: Option<PathBuf>,
    /// Add `packages` to the system already in the staging tree (a base layer) instead of
    /// bootstrapping one: the tree is unpacked into mmdebstrap's new root by a setup hook,
    /// and the `custom` variant installs just the packages (apt fetches only what the
    /// installed system lacks).
    pub onto_tree: bool,
}

impl AptPayload {
    /// A Debian `suite` from [`DEBIAN_DEFAULT_MIRROR`], component `main`, variant minbase.
    pub fn debian(suite: impl Into<String>) -> Self {
        let suite = suite.into();
        AptPayload {
            mirrors: vec![AptMirror::new(DEBIAN_DEFAULT_MIRROR, &suite, &["main"])],
            suite,
            variant: AptVariant::Minbase,
            packages: Vec::new(),
            cache_dir: None,
            mode: AptMode::Auto,
            architecture: None,
            keyrings: Vec::new(),
            source_date_epoch: None,
            keep_tar: None,
            onto_tree: false,
        }
    }

    /// An Ubuntu `suite` from [`UBUNTU_DEFAULT_MIRROR`], components `main universe`,
    /// verified with [`UBUNTU_KEYRING`] (Debian package `ubuntu-keyring`).
    pub fn ubuntu(suite: impl Into<String>) -> Self {
        let suite = suite.into();
        AptPayload {
            mirrors: vec![AptMirror::new(
                UBUNTU_DEFAULT_MIRROR,
                &suite,
                &["main", "universe"],
            )],
            keyrings: vec![PathBuf::from(UBUNTU_KEYRING)],
            ..AptPayload::debian(suite)
        }
    }

    /// The payload for a distribution id `debian-<version>` or `ubuntu-<version>`
    /// (`debian-12` is bookworm, `ubuntu-24.04` is noble).
    pub fn for_distro(id: &str) -> Result<Self, Error> {
        let unknown = || Error::UnknownDistro { id: id.to_owned() };
        let (family, version) = id.split_once('-').ok_or_else(unknown)?;
        let suite = match (family, version) {
            ("debian", "11") => "bullseye",
            ("debian", "12") => "bookworm",
            ("debian", "13") => "trixie",
            ("ubuntu", "20.04") => "focal",
            ("ubuntu", "22.04") => "jammy",
            ("ubuntu", "24.04") => "noble",
            _ => return Err(unknown()),
        };
        Ok(if family == "debian" {
            AptPayload::debian(suite)
        } else {
            AptPayload::ubuntu(suite)
        })
    }

    /// The mmdebstrap command line (without running it), tar output on stdout. With several
    /// keyrings, [`AptPayload::install`] gathers them into one directory first (apt reads one
    /// keyring file and one keyring directory); here that is a configuration error.
    pub fn command(&self) -> Result<Command, Error> {
        self.command_with(None, None, None)
    }

    /// The command line; `keyring_dir` holds every keyring of [`AptPayload::keyrings`];
    /// `target` is the directory to write, or `None` for a tar stream on stdout; `base` is
    /// the tar of the tree's system that [`AptPayload::onto_tree`] installs onto.
    fn command_with(
        &self,
        keyring_dir: Option<&Path>,
        target: Option<&Path>,
        base: Option<&Path>,
    ) -> Result<Command, Error> {
        if self.mirrors.is_empty() {
            return Err(Error::BadConfig {
                field: "mirrors",
                reason: "at least one mirror is needed".into(),
            });
        }
        for p in &self.packages {
            if p.is_empty() || p.contains([',', ' ', '\t', '\n']) {
                return Err(Error::BadConfig {
                    field: "packages",
                    reason: format!("`{p}` is not a package name"),
                });
            }
        }
        let mut cmd = Command::new("mmdebstrap");
        let variant = if base.is_some() {
            AptVariant::Custom
        } else {
            self.variant
        };
        cmd.arg(format!("--mode={}", self.mode.resolve()))
            .arg(format!("--variant={}", variant.as_str()))
            .arg(if target.is_some() {
                "--format=directory"
            } else {
                "--format=tar"
            })
            .arg("--aptopt=Acquire::Retries \"3\"");
        if let Some(arch) = &self.architecture {
            cmd.arg(format!("--architectures={arch}"));
        }
        match (keyring_dir, self.keyrings.as_slice()) {
            (Some(dir), _) => {
                cmd.arg(format!("--keyring={}", dir.display()));
            }
            (None, []) => {}
            (None, [one]) => {
                cmd.arg(format!("--keyring={}", one.display()));
            }
            (None, _) => {
                return Err(Error::BadConfig {
                    field: "keyrings",
                    reason: "several keyrings are passed to apt as one directory, which \
                             `install` prepares"
                        .to_owned(),
                });
            }
        }
        if !self.packages.is_empty() {
            cmd.arg(format!("--include={}", self.packages.join(",")));
        }
        if let Some(cache) = &self.cache_dir {
            let text = cache.to_str().filter(|t| !t.contains(char::is_whitespace));
            let Some(text) = text else {
                return Err(Error::BadConfig {
                    field: "cache_dir",
                    reason: format!(
                        "`{}` must be UTF-8 without whitespace (mmdebstrap's sync hooks split on spaces)",
                        cache.display()
                    ),
                });
            };
            // Keep the .debs of the essential set (normally unlinked after unpacking) so the
            // customize hook can copy every downloaded archive back to the cache.
            cmd.arg("--skip=essential/unlink")
                .arg("--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/")
                .arg(format!(
                    "--setup-hook=sync-in {text} /var/cache/apt/archives/"
                ))
                .arg(format!(
                    "--customize-hook=sync-out /var/cache/apt/archives {text}"
                ));
        }
        if let Some(base) = base {
            // Unpacked after mmdebstrap's own setup (apt configuration, sources, /dev),
            // which it matches, and before apt runs. The tar's owners are numeric; the
            // hook runs as (namespace) root, so they land as they are.
            cmd.env("FORGER_BASE_TAR", base).arg(
                "--setup-hook=tar --numeric-owner --xattrs --xattrs-include='*' \
                 -C \"$1\" -xf \"$FORGER_BASE_TAR\"",
            );
        }
        if let Some(epoch) = self.source_date_epoch {
            cmd.env("SOURCE_DATE_EPOCH", epoch.to_string());
        }
        cmd.arg(&self.suite)
            .arg(target.map_or_else(|| "-".into(), |t| t.as_os_str().to_owned()));
        for m in &self.mirrors {
            cmd.arg(m.line());
        }
        Ok(cmd)
    }

    /// Runs mmdebstrap and brings its root filesystem into `tree` (entries already present
    /// are replaced): as a directory beside the tree, adopted by rename, when running as root
    /// and no tar copy is wanted; as a tar stream otherwise. On failure the error carries
    /// mmdebstrap's own reason.
    pub fn install(&self, tree: &mut StagingTree) -> Result<TarImportStats, Error> {
        if let Some(cache) = &self.cache_dir {
            fs::create_dir_all(cache).map_err(|source| Error::Cache {
                path: cache.clone(),
                source,
            })?;
        }
        let keyring_dir = match self.keyrings.len() {
            0 | 1 => None,
            _ => Some(gather_keyrings(&self.keyrings)?),
        };
        let keyring_dir = keyring_dir.as_ref().map(|d| d.path());
        let base = match self.onto_tree {
            true => Some(take_base(tree)?),
            false => None,
        };
        let base = base.as_ref().map(|f| f.path());
        let stats = if self.mode.resolve() == "root" && self.keep_tar.is_none() {
            self.install_directory(keyring_dir, base, tree)?
        } else {
            self.install_tar(keyring_dir, base, tree)?
        };
        if let Some(epoch) = self.source_date_epoch {
            tree.manifest.clamp_mtimes(epoch);
        }
        Ok(stats)
    }

    /// `--format=directory` into a temporary directory on the tree's file system, then
    /// [`StagingTree::adopt_dir`]; the emptied rest is removed with the directory.
    fn install_directory(
        &self,
        keyring_dir: Option<&Path>,
        base: Option<&Path>,
        tree: &mut StagingTree,
    ) -> Result<TarImportStats, Error> {
        let parent = tree.root().parent().unwrap_or(Path::new("."));
        let scratch = tempfile::Builder::new()
            .prefix(".mmdebstrap-")
            .tempdir_in(parent)
            .map_err(|source| crate::stage::Error::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        let target = scratch.path().join("root");
        let (child, stderr) = spawn(
            self.command_with(keyring_dir, Some(&target), base)?,
            Stdio::null(),
        )?;
        let log = StderrLog::collect(stderr);
        self.finish(child, &log)?;
        Ok(tree.adopt_dir(&target)?)
    }

    /// `--format=tar` on stdout, imported entry by entry while mmdebstrap writes it.
    fn install_tar(
        &self,
        keyring_dir: Option<&Path>,
        base: Option<&Path>,
        tree: &mut StagingTree,
    ) -> Result<TarImportStats, Error> {
        let cmd = self.command_with(keyring_dir, None, base)?;
        let copy = match &self.keep_tar {
            None => None,
            Some(path) => {
                Some(
                    fs::File::create(path).map_err(|source| crate::stage::Error::Io {
                        path: path.clone(),
                        source,
                    })?,
                )
            }
        };
        let (mut child, stderr) = spawn(cmd, Stdio::piped())?;
        let reader = thread::spawn(move || StderrLog::collect(stderr));
        let stdout = child.stdout.take().expect("stdout was piped");
        let imported = match copy {
            None => tree.import_tar(stdout),
            Some(copy) => tree.import_tar(Tee {
                inner: stdout,
                copy: io::BufWriter::new(copy),
            }),
        };
        // Dropping the pipe (done by import_tar) makes mmdebstrap stop if the import failed.
        let log = reader.join().unwrap_or_default();
        self.finish(child, &log)?;
        Ok(imported?)
    }

    /// Waits for mmdebstrap; a failure becomes the most specific error its stderr allows.
    fn finish(&self, mut child: Child, log: &StderrLog) -> Result<(), Error> {
        let status = child
            .wait()
            .map_err(|source| Error::ToolMissing { source })?;
        if status.success() {
            Ok(())
        } else {
            Err(self.classify(status.to_string(), log))
        }
    }

    /// Turns mmdebstrap's stderr into the most specific error.
    fn classify(&self, status: String, log: &StderrLog) -> Error {
        let message = log.summary();
        for line in &log.errors {
            if let Some(rest) = line.strip_prefix("E: Unable to locate package ") {
                return Error::UnknownPackage {
                    package: rest.trim().to_owned(),
                    message,
                };
            }
            if let Some(rest) = line.strip_prefix("E: Package '")
                && let Some((pkg, _)) = rest.split_once('\'')
            {
                return Error::UnknownPackage {
                    package: pkg.to_owned(),
                    message,
                };
            }
        }
        const UNREACHABLE: [&str; 8] = [
            "Failed to fetch",
            "Could not connect",
            "Could not resolve",
            "Temporary failure resolving",
            "Connection refused",
            "does not have a Release file",
            "No route to host",
            "Unable to connect",
        ];
        if log
            .errors
            .iter()
            .chain(&log.tail)
            .any(|l| UNREACHABLE.iter().any(|m| l.contains(m)))
        {
            return Error::MirrorUnreachable {
                mirrors: self
                    .mirrors
                    .iter()
                    .map(AptMirror::line)
                    .collect::<Vec<_>>()
                    .join("; "),
                message,
            };
        }
        Error::Failed { status, message }
    }
}

/// Starts mmdebstrap with no stdin, `stdout` as given and stderr captured.
fn spawn(mut cmd: Command, stdout: Stdio) -> Result<(Child, ChildStderr), Error> {
    cmd.stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped());
    tracing::info!(command = ?cmd, "running mmdebstrap");
    let mut child = cmd
        .spawn()
        .map_err(|source| Error::ToolMissing { source })?;
    let stderr = child.stderr.take().expect("stderr was piped");
    Ok((child, stderr))
}

/// Copies `keyrings` into a new directory as apt's `TrustedParts` wants them: `.asc` for
/// ASCII-armoured keys, `.gpg` for binary ones, readable by apt's unprivileged `_apt` user.
fn gather_keyrings(keyrings: &[PathBuf]) -> Result<tempfile::TempDir, Error> {
    use std::os::unix::fs::PermissionsExt;
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Keyring { path, source }
    };
    let dir = tempfile::Builder::new()
        .prefix("forger-apt-keyrings")
        .tempdir()
        .map_err(failed(Path::new("forger-apt-keyrings")))?;
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))
        .map_err(failed(dir.path()))?;
    for (i, k) in keyrings.iter().enumerate() {
        let bytes = fs::read(k).map_err(failed(k))?;
        let ext = if bytes.starts_with(b"-----BEGIN PGP") {
            "asc"
        } else {
            "gpg"
        };
        let to = dir.path().join(format!("{i:02}.{ext}"));
        fs::write(&to, bytes).map_err(failed(&to))?;
        fs::set_permissions(&to, fs::Permissions::from_mode(0o644)).map_err(failed(&to))?;
    }
    Ok(dir)
}

/// Moves the system in `tree` out into a plain tar beside it (the tree is left holding only
/// `/`), for the setup hook of an [`AptPayload::onto_tree`] install. `/dev` is left out:
/// mmdebstrap makes the same nodes itself, and cannot make them again over the tar's in a
/// user namespace.
fn take_base(tree: &mut StagingTree) -> Result<tempfile::NamedTempFile, Error> {
    use crate::stage::StagePath;
    let dev = StagePath::new("/dev").expect("a valid stage path");
    if tree.manifest.get(&dev).is_some() {
        tree.clear_dir(&dev)?;
    }
    let parent = tree.root().parent().unwrap_or(Path::new("."));
    let file = tempfile::Builder::new()
        .prefix(".forger-base-")
        .suffix(".tar")
        .tempfile_in(parent)
        .map_err(|source| crate::stage::Error::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    let sink = io::BufWriter::with_capacity(1 << 20, file.as_file());
    let opts = crate::archive::ArchiveOptions::new(crate::archive::Compression::None, i64::MAX);
    let (_, sink) = crate::archive::write_to(tree, sink, &opts, file.path())
        .map_err(|source| Error::BaseLayer { source })?;
    sink.into_inner().map_err(|e| crate::stage::Error::Io {
        path: file.path().to_path_buf(),
        source: e.into_error(),
    })?;
    tree.clear_dir(&StagePath::root())?;
    Ok(file)
}

/// A reader that copies what it reads into a file.
struct Tee<R> {
    inner: R,
    copy: io::BufWriter<fs::File>,
}

impl<R: io::Read> io::Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.copy.flush()?;
        }
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// mmdebstrap's stderr, kept small: every `E:`/`W:` line plus the last lines.
#[derive(Debug, Default)]
struct StderrLog {
    errors: Vec<String>,
    tail: std::collections::VecDeque<String>,
}

impl StderrLog {
    fn collect(stream: impl io::Read) -> StderrLog {
        let mut log = StderrLog::default();
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            tracing::debug!(target: "forger::apt::mmdebstrap", "{line}");
            if (line.starts_with("E:") || line.starts_with("W:")) && log.errors.len() < 200 {
                log.errors.push(line.clone());
            }
            if log.tail.len() == STDERR_TAIL {
                log.tail.pop_front();
            }
            log.tail.push_back(line);
        }
        log
    }

    /// The `E:` lines, or the tail when there are none.
    fn summary(&self) -> String {
        let errors: Vec<&str> = self
            .errors
            .iter()
            .filter(|l| l.starts_with("E:"))
            .map(String::as_str)
            .collect();
        if errors.is_empty() {
            self.tail.iter().cloned().collect::<Vec<_>>().join("\n")
        } else {
            errors.join("\n")
        }
    }
}

/// The cache directory's `.deb` count and total size, for reports and tests.
pub fn cache_contents(cache_dir: &Path) -> io::Result<(usize, u64)> {
    let mut count = 0;
    let mut bytes = 0;
    for e in fs::read_dir(cache_dir)? {
        let e = e?;
        if e.file_name().to_string_lossy().ends_with(".deb") {
            count += 1;
            bytes += e.metadata()?.len();
        }
    }
    Ok((count, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(cmd: &Command) -> Vec<String> {
        cmd.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn command_line_carries_every_setting() {
        let mut p = AptPayload::debian("bookworm");
        p.mode = AptMode::Unshare;
        p.packages = vec!["systemd-sysv".into(), "udev".into()];
        p.cache_dir = Some("/var/cache/forger/apt".into());
        p.source_date_epoch = Some(1_700_000_000);
        p.mirrors.push(AptMirror::new(
            "http://m/debian",
            "bookworm-updates",
            &["main"],
        ));
        let cmd = p.command().expect("valid");
        let a = args(&cmd);
        assert!(a.contains(&"--mode=unshare".to_owned()));
        assert!(a.contains(&"--variant=minbase".to_owned()));
        assert!(a.contains(&"--include=systemd-sysv,udev".to_owned()));
        assert!(a.contains(
            &"--setup-hook=sync-in /var/cache/forger/apt /var/cache/apt/archives/".to_owned()
        ));
        let tail: Vec<&str> = a.iter().rev().take(4).rev().map(String::as_str).collect();
        assert_eq!(
            tail,
            [
                "bookworm",
                "-",
                "deb http://deb.debian.org/debian bookworm main",
                "deb http://m/debian bookworm-updates main"
            ]
        );
        let env: Vec<_> = cmd.get_envs().collect();
        assert_eq!(
            env,
            [(
                std::ffi::OsStr::new("SOURCE_DATE_EPOCH"),
                Some(std::ffi::OsStr::new("1700000000"))
            )]
        );
    }

    #[test]
    fn bad_settings_are_refused() {
        let mut p = AptPayload::debian("bookworm");
        p.packages = vec!["a,b".into()];
        assert!(matches!(
            p.command(),
            Err(Error::BadConfig {
                field: "packages",
                ..
            })
        ));
        let mut p = AptPayload::debian("bookworm");
        p.cache_dir = Some("/tmp/a b".into());
        assert!(matches!(
            p.command(),
            Err(Error::BadConfig {
                field: "cache_dir",
                ..
            })
        ));
        p.mirrors.clear();
        assert!(matches!(
            p.command(),
            Err(Error::BadConfig {
                field: "mirrors",
                ..
            })
        ));
    }

    #[test]
    fn several_keyrings_go_to_apt_as_one_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = (dir.path().join("a.key"), dir.path().join("b.key"));
        fs::write(&a, b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n").expect("write");
        fs::write(&b, [0x99, 0x01]).expect("write");
        let mut p = AptPayload::debian("bookworm");
        p.keyrings = vec![a.clone()];
        assert!(
            args(&p.command().expect("one keyring"))
                .contains(&format!("--keyring={}", a.display()))
        );
        p.keyrings.push(b);
        assert!(matches!(
            p.command(),
            Err(Error::BadConfig {
                field: "keyrings",
                ..
            })
        ));
        let gathered = gather_keyrings(&p.keyrings).expect("gathered");
        let mut names: Vec<String> = fs::read_dir(gathered.path())
            .expect("read")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["00.asc", "01.gpg"]);
        let cmd = p
            .command_with(Some(gathered.path()), None, None)
            .expect("dir");
        assert!(args(&cmd).contains(&format!("--keyring={}", gathered.path().display())));
    }

    #[test]
    fn distro_ids_map_to_suites() {
        assert_eq!(
            AptPayload::for_distro("debian-12").expect("known").suite,
            "bookworm"
        );
        let u = AptPayload::for_distro("ubuntu-24.04").expect("known");
        assert_eq!(
            u.mirrors[0].line(),
            "deb http://archive.ubuntu.com/ubuntu noble main universe"
        );
        assert!(matches!(
            AptPayload::for_distro("debian-99"),
            Err(Error::UnknownDistro { .. })
        ));
    }

    #[test]
    fn stderr_is_classified() {
        let p = AptPayload::debian("bookworm");
        let log = StderrLog::collect(&b"I: running apt-get update...\nE: Unable to locate package nosuchpkg\nE: mmdebstrap failed\n"[..]);
        match p.classify("exit status: 1".into(), &log) {
            Error::UnknownPackage { package, message } => {
                assert_eq!(package, "nosuchpkg");
                assert!(message.contains("Unable to locate"));
            }
            other => panic!("wrong error {other:?}"),
        }
        let log = StderrLog::collect(&b"W: Failed to fetch http://127.0.0.1:9/debian/dists/bookworm/InRelease  Could not connect to 127.0.0.1:9 (127.0.0.1). - connect (111: Connection refused)\nE: apt-get update failed\n"[..]);
        assert!(matches!(
            p.classify("exit status: 1".into(), &log),
            Error::MirrorUnreachable { .. }
        ));
    }
}
