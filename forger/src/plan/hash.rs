//! Stage hashes: SHA-256 over the canonical JSON of everything that affects a stage, chained
//! so that a stage's hash covers its predecessors. The stage cache keys on these.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Bump when the bytes Forger writes for the same inputs change, so old cache entries miss.
pub const FORMAT_VERSION: u32 = 3;

/// `sha256:<hex>` of the canonical JSON of `value`, prefixed with the stage name and the
/// hash of the previous stage.
pub(crate) fn stage_hash<T: Serialize>(stage: &str, previous: Option<&str>, value: &T) -> String {
    let mut h = Sha256::new();
    h.update(format!("forger-stage-v{FORMAT_VERSION}\0{stage}\0").as_bytes());
    h.update(previous.unwrap_or("").as_bytes());
    h.update(b"\0");
    // serde_json writes struct fields in declaration order and BTreeMaps sorted, which makes
    // this canonical for the model's types.
    h.update(serde_json::to_vec(value).expect("model values always serialise to JSON"));
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// `sha256:<hex>` of a file's bytes, streamed.
pub(crate) fn file_hash(path: &std::path::Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}
