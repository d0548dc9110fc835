//! Command-line arguments shared by every image program and the `forger` binary.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// How results and progress are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputMode {
    /// Progress bars and stage timings on stderr, results on stdout.
    #[default]
    Pretty,
    /// One JSON event per line on stdout.
    Json,
    /// Errors only.
    Quiet,
}

/// Build OS images: disks, OCI images and tarballs.
#[derive(Debug, Parser)]
#[command(version, about, propagate_version = true)]
pub struct Cli {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t)]
    pub output: OutputMode,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the image comes from, for the `forger` binary (image programs define it in Rust).
#[derive(Debug, Args, Clone, Default)]
pub struct Source {
    /// A KDL spec (the earlier tool's format) to build from.
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
}

/// Profiles to activate.
#[derive(Debug, Args, Clone, Default)]
pub struct Profiles {
    /// Activate a profile (`if="NAME"` blocks); repeatable.
    #[arg(short = 'p', long = "profile", value_name = "NAME")]
    pub profiles: Vec<String>,
}

/// APT mirror override: build a Debian/Ubuntu image from other mirrors than its own (a
/// machine that cannot reach the spec's mirror). Part of the plan: stage hashes, `inspect`
/// and the image's `/etc/apt/sources.list` follow it.
#[derive(Debug, Args, Clone, Default)]
pub struct AptArgs {
    /// Replace the image's APT mirrors with this one (repeatable; the first bootstraps).
    #[arg(long = "apt-mirror", value_name = "URL")]
    pub mirrors: Vec<String>,
    /// Suite of the override mirrors (default: the image's suite).
    #[arg(long = "apt-suite", value_name = "SUITE")]
    pub suite: Option<String>,
    /// Components of the override mirrors, space-separated (default: main).
    #[arg(long = "apt-components", value_name = "COMPONENTS")]
    pub components: Option<String>,
    /// Keyring verifying the override mirrors (repeatable; default: the host's apt keys).
    #[arg(long = "apt-keyring", value_name = "FILE")]
    pub keyrings: Vec<PathBuf>,
}

impl AptArgs {
    /// The override for the plan.
    pub fn to_override(&self) -> crate::plan::AptOverride {
        crate::plan::AptOverride {
            mirrors: self.mirrors.clone(),
            suite: self.suite.clone(),
            components: self
                .components
                .iter()
                .flat_map(|c| c.split_whitespace())
                .map(str::to_owned)
                .collect(),
            keyrings: self.keyrings.clone(),
        }
    }
}

/// Stage-cache options of `build`.
#[derive(Debug, Args, Clone, Default)]
pub struct CacheArgs {
    /// Build every stage, without reading or writing the stage cache.
    #[arg(long)]
    pub no_cache: bool,
    /// The stage cache directory (default: $XDG_CACHE_HOME/forger).
    #[arg(long, value_name = "DIR", env = "FORGER_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// After the build, push its stage entries to this registry repository
    /// (`host[:port]/name`), one artifact per stage tagged by its hash.
    #[arg(long, value_name = "REF", conflicts_with = "no_cache")]
    pub cache_to: Option<String>,
    /// On a local cache miss, pull the stage's entry from this registry repository.
    #[arg(long, value_name = "REF", conflicts_with = "no_cache")]
    pub cache_from: Option<String>,
}

/// Registry options of `build` and `push`.
#[derive(Debug, Args, Clone, Default)]
pub struct RegistryArgs {
    /// Credentials: JSON `{"username","password"}` or `{"token"}`.
    #[arg(long, value_name = "FILE")]
    pub auth_file: Option<PathBuf>,
    /// Reach this registry (`host[:port]`) over plain HTTP; loopback always is. Repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registries: Vec<String>,
    /// Upload chunk size (e.g. 4M); small enough for GHCR by default.
    #[arg(long, value_name = "SIZE")]
    pub chunk_size: Option<crate::model::Size>,
}

/// `cache` subcommands.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List cache entries, most recently used first.
    Ls,
    /// Evict least recently used entries until the cache is at most --max-size.
    Prune {
        /// Size to keep, e.g. 20G; 0 empties the cache.
        #[arg(long, default_value = "20G", value_name = "SIZE")]
        max_size: crate::model::Size,
    },
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build targets into the output directory.
    Build {
        #[command(flatten)]
        source: Source,
        #[command(flatten)]
        profiles: Profiles,
        /// Build only this target; repeatable.
        #[arg(short = 't', long = "target", value_name = "NAME")]
        targets: Vec<String>,
        /// Output directory.
        #[arg(short = 'o', long = "out", default_value = "out", value_name = "DIR")]
        out: PathBuf,
        /// Do not push targets that have push-to.
        #[arg(long)]
        skip_push: bool,
        /// File name (without extension) for the output of the one selected target.
        #[arg(long, value_name = "NAME")]
        output_name: Option<String>,
        /// Use this directory or tarball as the root file system instead of installing packages.
        #[arg(long, value_name = "PATH")]
        rootfs: Option<PathBuf>,
        /// IPS installer: the host's pkg(1) (illumos), Forger's native client, or auto.
        #[arg(long, value_enum, default_value_t, value_name = "CLIENT")]
        ips_client: crate::payload::ips::IpsClient,
        #[command(flatten)]
        apt: AptArgs,
        #[command(flatten)]
        cache: CacheArgs,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Check the image and its referenced files without building.
    Validate {
        #[command(flatten)]
        source: Source,
        #[command(flatten)]
        profiles: Profiles,
        #[command(flatten)]
        apt: AptArgs,
    },
    /// Show the resolved image: packages, users and overlays in order, targets.
    Inspect {
        #[command(flatten)]
        source: Source,
        #[command(flatten)]
        profiles: Profiles,
        #[command(flatten)]
        apt: AptArgs,
        /// Print the resolved image as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the targets.
    Targets {
        #[command(flatten)]
        source: Source,
    },
    /// Print the build plan with stage hashes.
    Plan {
        #[command(flatten)]
        source: Source,
        #[command(flatten)]
        profiles: Profiles,
        /// Plan only this target; repeatable.
        #[arg(short = 't', long = "target", value_name = "NAME")]
        targets: Vec<String>,
        #[command(flatten)]
        apt: AptArgs,
        /// Print JSON (the only format; accepted for the earlier tool's scripts).
        #[arg(long)]
        json: bool,
    },
    /// Push a built output: an OCI layout as an image, or a file as an artifact.
    // `--version` here is the artifact's version, not forger's.
    #[command(disable_version_flag = true)]
    Push {
        /// The OCI layout directory, QCOW2 file or tarball.
        #[arg(long, value_name = "PATH")]
        image: PathBuf,
        /// Where to push: `registry/repository:tag`.
        #[arg(long, value_name = "REF")]
        reference: String,
        /// Push a file as an artifact (QCOW2 or tarball) instead of an OCI layout.
        #[arg(long)]
        artifact: bool,
        /// Artifact config: image name (default: the file name without extension).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Artifact config: image version.
        #[arg(long, value_name = "VERSION", default_value = "0")]
        version: String,
        /// Artifact config: the image's operating system (`illumos` for OmniOS disks).
        #[arg(long, value_name = "OS", default_value = "linux")]
        os: String,
        /// Artifact config: the image's CPU architecture (OCI names: amd64, arm64, …).
        #[arg(long = "arch", value_name = "ARCH", default_value = "amd64")]
        architecture: String,
        /// Artifact config: a description.
        #[arg(long, value_name = "TEXT", default_value = "")]
        description: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Inspect or trim the stage cache.
    Cache {
        /// The stage cache directory (default: $XDG_CACHE_HOME/forger).
        #[arg(long, value_name = "DIR", env = "FORGER_CACHE_DIR")]
        cache_dir: Option<PathBuf>,
        #[command(subcommand)]
        command: CacheCommand,
    },
}

impl Command {
    /// The image source of the subcommand; `None` for commands that need no image.
    pub fn source(&self) -> Option<&Source> {
        match self {
            Command::Build { source, .. }
            | Command::Validate { source, .. }
            | Command::Inspect { source, .. }
            | Command::Targets { source }
            | Command::Plan { source, .. } => Some(source),
            Command::Cache { .. } | Command::Push { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks argument definitions only when a command is parsed in a debug build; this
    /// checks every subcommand at once (a clash once made `push --version` unusable).
    #[test]
    fn every_subcommand_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
