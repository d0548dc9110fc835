//! The push and pull entry points: OCI layouts pushed blob by blob with the manifest bytes as
//! written, files (QCOW2 disks, tarballs) pushed as OCI 1.1 artifacts, and artifacts pulled
//! back with digest verification. Blobs travel through [`Session`](super::session) (chunked,
//! resumable, streamed from disk); manifests through oci-client, which sends the bytes it is
//! given unchanged. The functions are synchronous facades over a private tokio runtime,
//! because the CLI is synchronous; do not call them from inside an async runtime.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Reference, RegistryOperation};
use oci_spec::image::{DescriptorBuilder, ImageManifestBuilder, MediaType};

use super::auth::{self, Credentials, ResolvedAuth};
use super::blob::{self, BlobOutcome};
use super::json::canonical;
use super::layout::{self, BlobRef};
use super::session::{Retry, Session, is_plain_http};
use super::{Error, TITLE_ANNOTATION};
use crate::archive::{Digest, Hasher};

/// Config media type of QCOW2 artifacts.
pub const QCOW2_CONFIG_MEDIA_TYPE: &str = "application/vnd.cloudnebula.qcow2.config.v1+json";
/// Layer media type of QCOW2 artifacts.
pub const QCOW2_LAYER_MEDIA_TYPE: &str = "application/vnd.cloudnebula.qcow2.layer.v1";
/// Config media type of tarball artifacts.
pub const TARBALL_CONFIG_MEDIA_TYPE: &str = "application/vnd.cloudnebula.tarball.config.v1+json";
/// Default upload chunk: GHCR refuses PATCH bodies over 4 MiB (416 "exceeds the maximum
/// permissible limit of 4.00MiB"), and oci-client uses the same size.
pub const DEFAULT_CHUNK_SIZE: usize = 4 << 20;

const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// Options of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOptions {
    /// `--auth-file`: JSON `{"username","password"}` or `{"token"}`.
    pub auth_file: Option<PathBuf>,
    /// Hosts (`host` or `host:port`) reached over plain HTTP besides loopback.
    pub insecure_registries: Vec<String>,
    /// Bytes per PATCH request; 0 streams each blob in a single PATCH (fastest, for
    /// registries without a request-size limit; GHCR needs chunks).
    pub chunk_size: usize,
    /// Retry policy for requests and uploads.
    pub retry: Retry,
    /// Repositories of the same registry to mount blobs from before uploading.
    pub mount_from: Vec<String>,
    /// Which tag of a multi-image layout to push (`None`: its only manifest).
    pub layout_tag: Option<String>,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            auth_file: None,
            insecure_registries: Vec::new(),
            chunk_size: DEFAULT_CHUNK_SIZE,
            retry: Retry::default(),
            mount_from: Vec::new(),
            layout_tag: None,
        }
    }
}

/// Options of a pull.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PullOptions {
    /// `--auth-file`.
    pub auth_file: Option<PathBuf>,
    /// Hosts reached over plain HTTP besides loopback.
    pub insecure_registries: Vec<String>,
    /// Blob cache directory (`<cache>/sha256/<hex>`); tags are re-resolved on every pull.
    pub cache_dir: Option<PathBuf>,
    /// Retry policy.
    pub retry: Retry,
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    /// The reference pushed to.
    pub reference: String,
    /// Digest of the pushed manifest.
    pub manifest: Digest,
    /// Each blob and what happened to it.
    pub blobs: Vec<(Digest, BlobOutcome)>,
}

/// What a pull did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullReport {
    /// The manifest digest the reference resolved to.
    pub manifest: Digest,
    /// The layer written to the destination.
    pub layer: Digest,
    /// Its media type.
    pub media_type: String,
    /// Its size.
    pub size: u64,
    /// True when the bytes came from the cache.
    pub from_cache: bool,
}

/// The kind of file pushed as an artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArtifactKind {
    /// A QCOW2 disk image.
    Qcow2,
    /// A tarball (`.tar`, `.tar.gz`, `.tar.zst`).
    Tarball,
}

/// What the artifact's config says about it (from the image model, never hard-coded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactMeta {
    /// Image name.
    pub name: String,
    /// Image version.
    pub version: String,
    /// Architecture (`amd64`).
    pub architecture: String,
    /// OS (`linux`, `solaris`).
    pub os: String,
    /// Human description.
    pub description: String,
    /// QCOW2 or tarball.
    pub kind: ArtifactKind,
}

/// A parsed reference with its registry, repository and tag-or-digest.
struct Target {
    text: String,
    reference: Reference,
    registry: String,
    repository: String,
}

fn parse_reference(text: &str) -> Result<Target, Error> {
    let stripped = text.strip_prefix("oci://").unwrap_or(text);
    let reference: Reference = stripped.parse().map_err(|e| Error::Reference {
        reference: text.to_owned(),
        reason: format!("{e}"),
    })?;
    Ok(Target {
        text: text.to_owned(),
        registry: reference.resolve_registry().to_owned(),
        repository: reference.repository().to_owned(),
        reference,
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| Error::Runtime { source })
}

fn registry_auth(a: &ResolvedAuth) -> RegistryAuth {
    match &a.credentials {
        Credentials::Anonymous => RegistryAuth::Anonymous,
        Credentials::Basic { username, password } => {
            RegistryAuth::Basic(username.clone(), password.clone())
        }
        Credentials::Bearer(t) => RegistryAuth::Bearer(t.clone()),
    }
}

fn oci_client_for(t: &Target, insecure: &[String]) -> oci_client::Client {
    let plain: Vec<String> = if is_plain_http(&t.registry, insecure) {
        vec![t.registry.clone()]
    } else {
        Vec::new()
    };
    oci_client::Client::new(ClientConfig {
        protocol: ClientProtocol::HttpsExcept(plain),
        ..Default::default()
    })
}

fn client_error(
    t: &Target,
    auth: &ResolvedAuth,
    e: oci_client::errors::OciDistributionError,
) -> Error {
    use oci_client::errors::OciDistributionError as E;
    match e {
        E::UnauthorizedError { .. } | E::AuthenticationFailure(_) => Error::Unauthorized {
            registry: t.registry.clone(),
            repository: t.repository.clone(),
            origin: auth.origin.clone(),
        },
        e => Error::Client {
            reference: t.text.clone(),
            message: e.to_string(),
        },
    }
}

/// Pushes the manifest bytes as they are under the reference's tag (or digest).
async fn push_manifest(
    t: &Target,
    auth: &ResolvedAuth,
    insecure: &[String],
    bytes: Vec<u8>,
    media_type: &str,
) -> Result<Digest, Error> {
    let digest = Digest::of(&bytes);
    let client = oci_client_for(t, insecure);
    client
        .auth(&t.reference, &registry_auth(auth), RegistryOperation::Push)
        .await
        .map_err(|e| client_error(t, auth, e))?;
    let ct = reqwest::header::HeaderValue::from_str(media_type).map_err(|_| Error::Layout {
        path: PathBuf::from(&t.text),
        reason: format!("media type `{media_type}` is not a valid header value"),
    })?;
    client
        .push_manifest_raw(&t.reference, bytes, ct)
        .await
        .map_err(|e| client_error(t, auth, e))?;
    Ok(digest)
}

/// Pushes an OCI image layout (`<name>-oci/`) to `reference`: every blob the manifest names,
/// then the manifest bytes exactly as stored in the layout.
pub fn push_layout(dir: &Path, reference: &str, opts: &PushOptions) -> Result<PushReport, Error> {
    let t = parse_reference(reference)?;
    let m = layout::read_manifest(dir, opts.layout_tag.as_deref())?;
    let auth = auth::resolve(&t.registry, opts.auth_file.as_deref())?;
    runtime()?.block_on(async {
        let s = Session::new(
            &t.registry,
            &t.repository,
            auth.clone(),
            &opts.insecure_registries,
            true,
            opts.retry,
        )?;
        let mut blobs = Vec::new();
        for b in &m.blobs {
            let path = layout::blob_path(dir, &b.digest);
            let outcome = blob::push_file(
                &s,
                &path,
                &b.digest,
                b.size,
                opts.chunk_size,
                &opts.mount_from,
            )
            .await?;
            blobs.push((b.digest, outcome));
        }
        let manifest = push_manifest(
            &t,
            &auth,
            &opts.insecure_registries,
            m.bytes.clone(),
            &m.media_type,
        )
        .await?;
        Ok(PushReport {
            reference: reference.to_owned(),
            manifest,
            blobs,
        })
    })
}

/// Hashes a file in one streaming pass.
fn hash_file(path: &Path) -> Result<(Digest, u64), Error> {
    let mut f = std::fs::File::open(path).map_err(Error::io(path))?;
    let mut h = Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(Error::io(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finish())
}

/// Pushes `file` (a QCOW2 disk or a tarball) as an OCI 1.1 artifact: a config blob with the
/// image's name/version/architecture/os/description, one layer with the file's bytes and an
/// `org.opencontainers.image.title` annotation, and `artifactType` set.
pub fn push_artifact(
    file: &Path,
    reference: &str,
    meta: &ArtifactMeta,
    opts: &PushOptions,
) -> Result<PushReport, Error> {
    let t = parse_reference(reference)?;
    let auth = auth::resolve(&t.registry, opts.auth_file.as_deref())?;
    let (layer_digest, layer_size) = hash_file(file)?;
    let title = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| meta.name.clone());
    let (config_mt, layer_mt) = match meta.kind {
        ArtifactKind::Qcow2 => (QCOW2_CONFIG_MEDIA_TYPE, QCOW2_LAYER_MEDIA_TYPE),
        ArtifactKind::Tarball => (
            TARBALL_CONFIG_MEDIA_TYPE,
            if title.ends_with(".zst") {
                "application/vnd.oci.image.layer.v1.tar+zstd"
            } else if title.ends_with(".gz") {
                "application/vnd.oci.image.layer.v1.tar+gzip"
            } else {
                "application/vnd.oci.image.layer.v1.tar"
            },
        ),
    };
    let config = serde_json::json!({
        "name": meta.name,
        "version": meta.version,
        "architecture": meta.architecture,
        "os": meta.os,
        "description": meta.description,
    });
    let config_bytes = canonical(&config).map_err(Error::json("artifact config"))?;
    let config_ref = BlobRef {
        digest: Digest::of(&config_bytes),
        size: config_bytes.len() as u64,
        media_type: config_mt.to_owned(),
    };
    let desc = |mt: &str, b: &BlobRef, ann: Option<HashMap<String, String>>| {
        let mut d = DescriptorBuilder::default()
            .media_type(MediaType::Other(mt.to_owned()))
            .size(b.size)
            .digest(
                b.digest
                    .to_string()
                    .parse::<oci_spec::image::Digest>()
                    .expect("our digests are valid sha256 digests"),
            );
        if let Some(a) = ann {
            d = d.annotations(a);
        }
        d.build().map_err(|e| Error::Config {
            reason: format!("descriptor: {e}"),
        })
    };
    let layer_ref = BlobRef {
        digest: layer_digest,
        size: layer_size,
        media_type: layer_mt.to_owned(),
    };
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .artifact_type(MediaType::Other(config_mt.to_owned()))
        .config(desc(config_mt, &config_ref, None)?)
        .layers(vec![desc(
            layer_mt,
            &layer_ref,
            Some(HashMap::from([(TITLE_ANNOTATION.to_owned(), title)])),
        )?])
        .build()
        .map_err(|e| Error::Config {
            reason: format!("manifest: {e}"),
        })?;
    let manifest_bytes = canonical(&manifest).map_err(Error::json("artifact manifest"))?;

    // The config is tiny but goes through the same streaming path as every blob.
    let mut config_file =
        tempfile::NamedTempFile::new().map_err(Error::io(std::env::temp_dir()))?;
    std::io::Write::write_all(&mut config_file, &config_bytes)
        .map_err(Error::io(config_file.path()))?;

    runtime()?.block_on(async {
        let s = Session::new(
            &t.registry,
            &t.repository,
            auth.clone(),
            &opts.insecure_registries,
            true,
            opts.retry,
        )?;
        let mut blobs = Vec::new();
        for (path, b) in [(config_file.path(), &config_ref), (file, &layer_ref)] {
            let o = blob::push_file(
                &s,
                path,
                &b.digest,
                b.size,
                opts.chunk_size,
                &opts.mount_from,
            )
            .await?;
            blobs.push((b.digest, o));
        }
        let manifest = push_manifest(
            &t,
            &auth,
            &opts.insecure_registries,
            manifest_bytes,
            MANIFEST_MEDIA_TYPE,
        )
        .await?;
        Ok(PushReport {
            reference: reference.to_owned(),
            manifest,
            blobs,
        })
    })
}

/// The digest of the manifest at `reference` (a `HEAD` request where the registry answers
/// it with `Docker-Content-Digest`), without fetching any blob: how a caller learns that a
/// content-addressed tag is already there.
pub fn manifest_digest(reference: &str, opts: &PullOptions) -> Result<String, Error> {
    let t = parse_reference(reference)?;
    let auth = auth::resolve(&t.registry, opts.auth_file.as_deref())?;
    runtime()?.block_on(async {
        oci_client_for(&t, &opts.insecure_registries)
            .fetch_manifest_digest(&t.reference, &registry_auth(&auth))
            .await
            .map_err(|e| client_error(&t, &auth, e))
    })
}

/// Pulls the single layer of the artifact (or single-layer image) at `reference` (`oci://`
/// prefix allowed) into the file `dest`, verifying its digest while streaming.
pub fn pull_artifact(
    reference: &str,
    dest: &Path,
    opts: &PullOptions,
) -> Result<PullReport, Error> {
    let t = parse_reference(reference)?;
    let auth = auth::resolve(&t.registry, opts.auth_file.as_deref())?;
    runtime()?.block_on(async {
        let client = oci_client_for(&t, &opts.insecure_registries);
        let (bytes, _) = client
            .pull_manifest_raw(
                &t.reference,
                &registry_auth(&auth),
                &[
                    MANIFEST_MEDIA_TYPE,
                    "application/vnd.docker.distribution.manifest.v2+json",
                ],
            )
            .await
            .map_err(|e| client_error(&t, &auth, e))?;
        let manifest = Digest::of(&bytes);
        if let Some(want) = t.reference.digest()
            && want != manifest.to_string()
        {
            return Err(Error::DigestMismatch {
                what: format!("manifest of {reference}"),
                expected: want.to_owned(),
                actual: manifest.to_string(),
            });
        }
        let doc: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(Error::json("pulled manifest"))?;
        let layers = doc["layers"].as_array().cloned().unwrap_or_default();
        let [layer] = layers.as_slice() else {
            return Err(Error::Layout {
                path: PathBuf::from(reference),
                reason: format!("expected one layer, the manifest has {}", layers.len()),
            });
        };
        let bad = || Error::Layout {
            path: PathBuf::from(reference),
            reason: "malformed layer descriptor".into(),
        };
        let digest: Digest = layer["digest"]
            .as_str()
            .and_then(|d| d.parse().ok())
            .ok_or_else(bad)?;
        let size = layer["size"].as_u64().ok_or_else(bad)?;
        let media_type = layer["mediaType"].as_str().unwrap_or_default().to_owned();
        let s = Session::new(
            &t.registry,
            &t.repository,
            auth.clone(),
            &opts.insecure_registries,
            false,
            opts.retry,
        )?;
        let mut from_cache = false;
        match &opts.cache_dir {
            Some(cache) => {
                let dir = cache.join("sha256");
                std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
                let cached = dir.join(digest.hex());
                if cached.is_file()
                    && std::fs::metadata(&cached).map(|m| m.len()).ok() == Some(size)
                {
                    from_cache = true;
                } else {
                    blob::pull_to_file(&s, &digest, Some(size), &cached).await?;
                }
                copy_via_temp(&cached, dest)?;
            }
            None => {
                blob::pull_to_file(&s, &digest, Some(size), dest).await?;
            }
        }
        Ok(PullReport {
            manifest,
            layer: digest,
            media_type,
            size,
            from_cache,
        })
    })
}

fn copy_via_temp(from: &Path, dest: &Path) -> Result<(), Error> {
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".forger-pull-")
        .tempfile_in(&dir)
        .map_err(Error::io(&dir))?;
    std::fs::copy(from, tmp.path()).map_err(Error::io(tmp.path()))?;
    tmp.persist(dest).map_err(|e| Error::io(dest)(e.error))?;
    Ok(())
}
