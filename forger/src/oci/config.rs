//! The image configuration as Forger's model describes it, independent of any front end, and
//! its conversion to an OCI image config (oci-spec) with canonical bytes.

use std::collections::BTreeMap;

use oci_spec::image::{
    Arch, ConfigBuilder, HistoryBuilder, ImageConfiguration, ImageConfigurationBuilder, Os,
    RootFsBuilder,
};

use super::Error;
use crate::archive::Digest;

/// What an OCI image's config says about how to run it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageConfig {
    /// `linux`, or `solaris` for illumos.
    pub os: String,
    /// `amd64` or `arm64`.
    pub architecture: String,
    /// The entrypoint vector.
    pub entrypoint: Vec<String>,
    /// Default arguments.
    pub cmd: Vec<String>,
    /// Environment, in order.
    pub env: Vec<(String, String)>,
    /// Working directory of the process.
    pub working_dir: Option<String>,
    /// `user`, `uid`, `user:group` or `uid:gid`.
    pub user: Option<String>,
    /// Config labels.
    pub labels: BTreeMap<String, String>,
    /// Exposed ports such as `80/tcp` (sorted on output).
    pub exposed_ports: Vec<String>,
    /// Manifest annotations (`org.opencontainers.image.*`).
    pub annotations: BTreeMap<String, String>,
    /// `SOURCE_DATE_EPOCH`, used for `created` and history dates.
    pub created: i64,
    /// History entries, one per layer (`created_by` text); an empty list gets one
    /// `forger` entry.
    pub history: Vec<String>,
}

impl ImageConfig {
    /// A config for `os`/`architecture` with everything else empty.
    pub fn new(os: impl Into<String>, architecture: impl Into<String>) -> Self {
        ImageConfig {
            os: os.into(),
            architecture: architecture.into(),
            ..Default::default()
        }
    }

    /// The OCI config for an image whose single layer has `diff_id`.
    pub fn to_oci(&self, diff_id: &Digest) -> Result<ImageConfiguration, Error> {
        let bad = |what: &str, e: &dyn std::fmt::Display| Error::Config {
            reason: format!("{what}: {e}"),
        };
        let os = match self.os.as_str() {
            "linux" => Os::Linux,
            "solaris" | "illumos" => Os::Solaris,
            other => {
                return Err(Error::Config {
                    reason: format!("os `{other}` is not `linux` or `solaris`"),
                });
            }
        };
        let arch = match self.architecture.as_str() {
            "amd64" | "x86_64" => Arch::Amd64,
            "arm64" | "aarch64" => Arch::ARM64,
            other => {
                return Err(Error::Config {
                    reason: format!("architecture `{other}` is not `amd64` or `arm64`"),
                });
            }
        };
        let created = rfc3339(self.created);
        let mut cfg = ConfigBuilder::default();
        if !self.entrypoint.is_empty() {
            cfg = cfg.entrypoint(self.entrypoint.clone());
        }
        if !self.cmd.is_empty() {
            cfg = cfg.cmd(self.cmd.clone());
        }
        if !self.env.is_empty() {
            cfg = cfg.env(
                self.env
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>(),
            );
        }
        if let Some(w) = &self.working_dir {
            cfg = cfg.working_dir(w.clone());
        }
        if let Some(u) = &self.user {
            cfg = cfg.user(u.clone());
        }
        if !self.labels.is_empty() {
            cfg = cfg.labels(
                self.labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<std::collections::HashMap<_, _>>(),
            );
        }
        if !self.exposed_ports.is_empty() {
            let mut ports = self.exposed_ports.clone();
            ports.sort();
            ports.dedup();
            cfg = cfg.exposed_ports(ports);
        }
        let cfg = cfg.build().map_err(|e| bad("config", &e))?;
        let history_lines = if self.history.is_empty() {
            vec!["forger".to_owned()]
        } else {
            self.history.clone()
        };
        let history = history_lines
            .iter()
            .map(|h| {
                HistoryBuilder::default()
                    .created(created.clone())
                    .created_by(h.clone())
                    .build()
                    .map_err(|e| bad("history", &e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let rootfs = RootFsBuilder::default()
            .typ("layers")
            .diff_ids(vec![diff_id.to_string()])
            .build()
            .map_err(|e| bad("rootfs", &e))?;
        ImageConfigurationBuilder::default()
            .created(created)
            .architecture(arch)
            .os(os)
            .config(cfg)
            .rootfs(rootfs)
            .history(history)
            .build()
            .map_err(|e| bad("image configuration", &e))
    }
}

/// `epoch` seconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC), without a date library.
pub(crate) fn rfc3339(epoch: i64) -> String {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    // Civil-from-days (proleptic Gregorian), after Howard Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }
}
