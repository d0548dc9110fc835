//! The earlier tool's `builder` block: settings of a builder VM. Kept in the model so specs
//! round-trip; used when a build step needs a VM.

use bon::Builder;
use serde::{Deserialize, Serialize};

/// Builder-VM settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, Builder)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BuilderVm {
    /// Base image: `oci://…`, `http(s)://…` or a path.
    #[builder(into)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Binaries copied into the VM, each optionally pinned by SHA-256.
    #[builder(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binaries: Vec<Binary>,
    /// Virtual CPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpus: Option<u32>,
    /// Memory in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u32>,
    /// Disk in GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_gb: Option<u32>,
}

/// A binary for the builder VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Binary {
    /// Source: `oci://…`, URL or path.
    pub source: String,
    /// Expected SHA-256 (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}
