//! OCI image layouts on disk (`<out>/<name>-oci/`): writing one from a staging tree, and
//! reading one back for a push.
//!
//! The layout is built in a temporary sibling directory and renamed into place when
//! complete, so a failed build never leaves a half-written layout under the final name.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::image::{
    Descriptor, DescriptorBuilder, ImageIndexBuilder, ImageManifestBuilder, MediaType,
    OciLayoutBuilder,
};

use super::config::ImageConfig;
use super::json::canonical;
use super::{Error, REF_NAME_ANNOTATION};
use crate::archive::{self, ArchiveDigests, ArchiveOptions, Compression, Digest};
use crate::stage::StagingTree;

/// How to write a layout.
#[derive(Debug, Clone)]
pub struct LayoutOptions {
    /// Layer compression (gzip by default).
    pub compression: Compression,
    /// `SOURCE_DATE_EPOCH` (mtime clamp and config `created`).
    pub epoch: i64,
    /// The tag recorded as `org.opencontainers.image.ref.name` in `index.json`.
    pub tag: String,
    /// Compression threads (0: one per core).
    pub threads: usize,
    /// Compressed blocks of earlier layers to reuse (see [`ArchiveOptions::memo`]).
    pub memo: Option<std::sync::Arc<dyn archive::BlockMemo>>,
}

impl Default for LayoutOptions {
    fn default() -> Self {
        LayoutOptions {
            compression: Compression::Gzip,
            epoch: 0,
            tag: "latest".to_owned(),
            threads: 0,
            memo: None,
        }
    }
}

/// What [`write_layout`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutReport {
    /// The layout directory (`<out>/<name>-oci`).
    pub dir: PathBuf,
    /// Digest of the image manifest.
    pub manifest: Digest,
    /// Digest of the config blob.
    pub config: Digest,
    /// The layer's digests and sizes.
    pub layer: ArchiveDigests,
}

/// One blob a manifest refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRef {
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Its media type.
    pub media_type: String,
}

/// A manifest read from a layout, with the exact bytes that were written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutManifest {
    /// The manifest bytes as stored.
    pub bytes: Vec<u8>,
    /// Its media type.
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// The config blob, then the layers.
    pub blobs: Vec<BlobRef>,
}

/// Writes `<out_dir>/<name>-oci/` holding one image built from `tree`.
pub fn write_layout(
    tree: &StagingTree,
    out_dir: &Path,
    name: &str,
    config: &ImageConfig,
    opts: &LayoutOptions,
) -> Result<LayoutReport, Error> {
    let final_dir = out_dir.join(format!("{name}-oci"));
    fs::create_dir_all(out_dir).map_err(Error::io(out_dir))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}-oci."))
        .tempdir_in(out_dir)
        .map_err(Error::io(out_dir))?;
    let blobs = tmp.path().join("blobs").join("sha256");
    fs::create_dir_all(&blobs).map_err(Error::io(&blobs))?;

    // The layer streams into a temporary blob and is renamed once its digest is known.
    let layer_tmp = blobs.join(".layer.partial");
    let aopts = ArchiveOptions {
        compression: opts.compression,
        epoch: opts.epoch,
        threads: opts.threads,
        memo: opts.memo.clone(),
    };
    let layer = archive::write(tree, &layer_tmp, &aopts)?;
    let layer_path = blobs.join(layer.compressed.hex());
    fs::rename(&layer_tmp, &layer_path).map_err(Error::io(&layer_path))?;

    let mut cfg = config.clone();
    cfg.created = opts.epoch;
    let oci_config = cfg.to_oci(&layer.uncompressed)?;
    let config_bytes = canonical(&oci_config).map_err(Error::json("image config"))?;
    let config_digest = put_blob(&blobs, &config_bytes)?;

    let layer_desc = descriptor(
        MediaType::Other(opts.compression.oci_layer_media_type().to_owned()),
        layer.size,
        &layer.compressed,
        None,
    )?;
    let config_desc = descriptor(
        MediaType::ImageConfig,
        config_bytes.len() as u64,
        &config_digest,
        None,
    )?;
    let mut manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config_desc)
        .layers(vec![layer_desc]);
    if !config.annotations.is_empty() {
        manifest = manifest.annotations(
            config
                .annotations
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<HashMap<_, _>>(),
        );
    }
    let manifest = manifest.build().map_err(|e| Error::Config {
        reason: format!("manifest: {e}"),
    })?;
    let manifest_bytes = canonical(&manifest).map_err(Error::json("image manifest"))?;
    let manifest_digest = put_blob(&blobs, &manifest_bytes)?;

    let index_entry = descriptor(
        MediaType::ImageManifest,
        manifest_bytes.len() as u64,
        &manifest_digest,
        Some(HashMap::from([(
            REF_NAME_ANNOTATION.to_owned(),
            opts.tag.clone(),
        )])),
    )?;
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![index_entry])
        .build()
        .map_err(|e| Error::Config {
            reason: format!("index: {e}"),
        })?;
    write_file(
        &tmp.path().join("index.json"),
        &canonical(&index).map_err(Error::json("index.json"))?,
    )?;
    let layout = OciLayoutBuilder::default()
        .image_layout_version("1.0.0")
        .build()
        .map_err(|e| Error::Config {
            reason: format!("oci-layout: {e}"),
        })?;
    write_file(
        &tmp.path().join("oci-layout"),
        &canonical(&layout).map_err(Error::json("oci-layout"))?,
    )?;

    if final_dir.exists() {
        fs::remove_dir_all(&final_dir).map_err(Error::io(&final_dir))?;
    }
    let tmp_path = tmp.keep();
    fs::rename(&tmp_path, &final_dir).map_err(Error::io(&final_dir))?;
    Ok(LayoutReport {
        dir: final_dir,
        manifest: manifest_digest,
        config: config_digest,
        layer,
    })
}

fn descriptor(
    media_type: MediaType,
    size: u64,
    digest: &Digest,
    annotations: Option<HashMap<String, String>>,
) -> Result<Descriptor, Error> {
    let d: oci_spec::image::Digest =
        digest
            .to_string()
            .parse()
            .map_err(|e: oci_spec::OciSpecError| Error::Config {
                reason: format!("digest: {e}"),
            })?;
    let mut b = DescriptorBuilder::default()
        .media_type(media_type)
        .size(size)
        .digest(d);
    if let Some(a) = annotations {
        b = b.annotations(a);
    }
    b.build().map_err(|e| Error::Config {
        reason: format!("descriptor: {e}"),
    })
}

fn put_blob(blobs: &Path, bytes: &[u8]) -> Result<Digest, Error> {
    let d = Digest::of(bytes);
    write_file(&blobs.join(d.hex()), bytes)?;
    Ok(d)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    fs::write(path, bytes).map_err(Error::io(path))
}

/// The host path of a blob in a layout.
pub fn blob_path(layout: &Path, digest: &Digest) -> PathBuf {
    layout.join("blobs").join("sha256").join(digest.hex())
}

/// Reads the manifest tagged `tag` (or the only one when `tag` is `None`) from a layout.
pub fn read_manifest(layout: &Path, tag: Option<&str>) -> Result<LayoutManifest, Error> {
    let bad = |reason: String| Error::Layout {
        path: layout.to_owned(),
        reason,
    };
    let index_path = layout.join("index.json");
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(&index_path).map_err(Error::io(&index_path))?)
            .map_err(Error::json("index.json"))?;
    let entries = index["manifests"]
        .as_array()
        .ok_or_else(|| bad("index.json has no `manifests` array".into()))?;
    let chosen = match tag {
        Some(t) => entries
            .iter()
            .find(|e| e["annotations"][REF_NAME_ANNOTATION].as_str() == Some(t))
            .ok_or_else(|| bad(format!("no manifest is tagged `{t}`")))?,
        None if entries.len() == 1 => &entries[0],
        None => {
            return Err(bad(format!(
                "{} manifests and no tag to choose",
                entries.len()
            )));
        }
    };
    let desc = blob_ref(chosen).ok_or_else(|| bad("malformed manifest descriptor".into()))?;
    let path = blob_path(layout, &desc.digest);
    let bytes = fs::read(&path).map_err(Error::io(&path))?;
    let actual = Digest::of(&bytes);
    if actual != desc.digest || bytes.len() as u64 != desc.size {
        return Err(Error::DigestMismatch {
            what: format!("manifest in {}", layout.display()),
            expected: desc.digest.to_string(),
            actual: actual.to_string(),
        });
    }
    let doc: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(Error::json("image manifest"))?;
    let mut blobs =
        vec![blob_ref(&doc["config"]).ok_or_else(|| bad("manifest has no config".into()))?];
    for l in doc["layers"].as_array().into_iter().flatten() {
        blobs.push(blob_ref(l).ok_or_else(|| bad("malformed layer descriptor".into()))?);
    }
    Ok(LayoutManifest {
        bytes,
        media_type: desc.media_type,
        digest: desc.digest,
        blobs,
    })
}

fn blob_ref(v: &serde_json::Value) -> Option<BlobRef> {
    Some(BlobRef {
        digest: v["digest"].as_str()?.parse().ok()?,
        size: v["size"].as_u64()?,
        media_type: v["mediaType"].as_str()?.to_owned(),
    })
}
