//! The ESP for systemd-boot: the loader at the firmware's fallback path, the newest kernel
//! and initrd of the staged `/boot`, `loader/loader.conf` and one Boot Loader Specification
//! entry whose command line names the root filesystem by UUID.
//!
//! Layout on the ESP (the `kernel-install` convention):
//! `EFI/BOOT/BOOTX64.EFI`, `<entry>/<version>/linux`, `<entry>/<version>/initrd`,
//! `loader/loader.conf`, `loader/entries/<entry>.conf`.

use std::cmp::Ordering;

use super::Error;
use super::resolve::regular_file;
use crate::fs::{EspFile, EspSource};
use crate::stage::{EntryKind, Manifest, StagePath, StagingTree};

/// Where Debian's and Ubuntu's `systemd-boot-efi` package installs the x86-64 loader.
pub const SYSTEMD_BOOT_X64: &str = "/usr/lib/systemd/boot/efi/systemd-bootx64.efi";
/// The removable-media path UEFI firmware boots without any NVRAM entry.
pub const FALLBACK_X64: &str = "EFI/BOOT/BOOTX64.EFI";

/// A kernel of the staged `/boot` and its initrd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelPair {
    /// Kernel release (`6.1.0-28-amd64`), as in the file names.
    pub version: String,
    /// The kernel image (a regular file of the tree, symlinks resolved).
    pub kernel: StagePath,
    /// The initial ramdisk.
    pub initrd: StagePath,
}

/// Finds the newest kernel in `/boot` that has an initrd (`vmlinuz-<v>` with
/// `initrd.img-<v>` or `initramfs-<v>.img`), comparing versions the way dpkg does.
pub fn find_kernel(manifest: &Manifest) -> Result<KernelPair, Error> {
    let boot = StagePath::new("/boot")?;
    let names: Vec<String> = manifest
        .children(&boot)
        .filter(|(_, e)| !matches!(e.kind, EntryKind::Directory))
        .map(|(p, _)| p.file_name().to_owned())
        .collect();
    let mut best: Option<KernelPair> = None;
    for name in &names {
        let Some(version) = name.strip_prefix("vmlinuz-") else {
            continue;
        };
        let Ok(kernel) = regular_file(manifest, &format!("/boot/{name}")) else {
            continue;
        };
        let initrd = [
            format!("/boot/initrd.img-{version}"),
            format!("/boot/initramfs-{version}.img"),
        ]
        .iter()
        .find_map(|p| regular_file(manifest, p).ok());
        let Some(initrd) = initrd else { continue };
        if best
            .as_ref()
            .is_none_or(|b| compare_versions(version, &b.version) == Ordering::Greater)
        {
            best = Some(KernelPair {
                version: version.to_owned(),
                kernel,
                initrd,
            });
        }
    }
    best.ok_or_else(|| Error::NoKernel {
        found: if names.is_empty() {
            "/boot is empty or missing".to_owned()
        } else {
            names.join(", ")
        },
    })
}

/// dpkg's version comparison (without epochs): digits compare numerically, `~` sorts
/// before everything, letters before other characters.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn order(c: Option<u8>) -> i32 {
        match c {
            None => 0,
            Some(b'~') => -1,
            Some(c) if c.is_ascii_digit() => 0,
            Some(c) if c.is_ascii_alphabetic() => c as i32,
            Some(c) => c as i32 + 256,
        }
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // Non-digit run.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let (ca, cb) = (order(a.get(i).copied()), order(b.get(j).copied()));
            let ca = if a.get(i).is_some_and(u8::is_ascii_digit) {
                0
            } else {
                ca
            };
            let cb = if b.get(j).is_some_and(u8::is_ascii_digit) {
                0
            } else {
                cb
            };
            if ca != cb {
                return ca.cmp(&cb);
            }
            if i < a.len() && !a[i].is_ascii_digit() {
                i += 1;
            }
            if j < b.len() && !b[j].is_ascii_digit() {
                j += 1;
            }
        }
        // Digit run, compared as numbers (leading zeros ignored).
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let (si, sj) = (i, j);
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let (da, db) = (&a[si..i], &b[sj..j]);
        let ord = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// What the ESP of a systemd-boot Linux image holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinuxBoot {
    /// Entry id: the entry's file name and the ESP directory of its kernel (`debian`).
    pub entry_id: String,
    /// Menu title (`Debian GNU/Linux`).
    pub title: String,
    /// UUID of the root filesystem (`root=UUID=…`).
    pub root_uuid: String,
    /// Further kernel arguments after `root=UUID=… rw` (default `console=ttyS0`).
    pub cmdline: Vec<String>,
    /// Menu timeout in seconds (`0` boots the default entry at once).
    pub timeout: u32,
}

impl LinuxBoot {
    /// An entry `entry_id` booting the root filesystem `root_uuid` with `console=ttyS0`.
    pub fn new(entry_id: impl Into<String>, root_uuid: impl Into<String>) -> Self {
        let entry_id = entry_id.into();
        LinuxBoot {
            title: entry_id.clone(),
            entry_id,
            root_uuid: root_uuid.into(),
            cmdline: vec!["console=ttyS0".to_owned()],
            timeout: 0,
        }
    }

    /// The kernel command line of the entry.
    pub fn kernel_cmdline(&self) -> String {
        let mut args = vec![format!("root=UUID={}", self.root_uuid), "rw".to_owned()];
        args.extend(self.cmdline.iter().cloned());
        args.join(" ")
    }

    /// The ESP's files for `tree`: loader, kernel, initrd and configuration, in a fixed
    /// order. Fails when the tree lacks systemd-boot or a kernel with an initrd.
    pub fn esp_files(&self, tree: &StagingTree) -> Result<Vec<EspFile>, Error> {
        self.validate()?;
        let manifest = &tree.manifest;
        let loader = regular_file(manifest, SYSTEMD_BOOT_X64).map_err(|_| Error::NoLoader {
            path: SYSTEMD_BOOT_X64.to_owned(),
        })?;
        let k = find_kernel(manifest)?;
        let dir = format!("{}/{}", self.entry_id, k.version);
        let loader_conf = format!(
            "default {}.conf\ntimeout {}\nconsole-mode keep\neditor no\n",
            self.entry_id, self.timeout
        );
        let entry = format!(
            "title {}\nversion {}\nlinux /{dir}/linux\ninitrd /{dir}/initrd\noptions {}\n",
            self.title,
            k.version,
            self.kernel_cmdline()
        );
        Ok(vec![
            EspFile {
                path: FALLBACK_X64.to_owned(),
                source: EspSource::Staged(loader),
            },
            EspFile {
                path: format!("{dir}/linux"),
                source: EspSource::Staged(k.kernel),
            },
            EspFile {
                path: format!("{dir}/initrd"),
                source: EspSource::Staged(k.initrd),
            },
            EspFile {
                path: "loader/loader.conf".to_owned(),
                source: EspSource::Bytes(loader_conf.into_bytes()),
            },
            EspFile {
                path: format!("loader/entries/{}.conf", self.entry_id),
                source: EspSource::Bytes(entry.into_bytes()),
            },
        ])
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        let bad = |field, reason: &str| {
            Err(Error::BadConfig {
                field,
                reason: reason.to_owned(),
            })
        };
        if self.entry_id.is_empty()
            || !self
                .entry_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return bad("entry_id", "use letters, digits, `.`, `_` and `-` only");
        }
        if self.root_uuid.is_empty() || self.root_uuid.contains(char::is_whitespace) {
            return bad("root_uuid", "a UUID without whitespace is needed");
        }
        if self.title.contains('\n') || self.cmdline.iter().any(|a| a.contains(['\n', ' '])) {
            return bad("cmdline", "one argument per element, no newlines or spaces");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_like_dpkg() {
        use Ordering::*;
        assert_eq!(compare_versions("6.1.0-10-amd64", "6.1.0-9-amd64"), Greater);
        assert_eq!(compare_versions("6.1.0-9-amd64", "6.1.0-10-amd64"), Less);
        assert_eq!(compare_versions("6.1.0", "6.1.0"), Equal);
        assert_eq!(compare_versions("6.1~rc1", "6.1"), Less);
        assert_eq!(compare_versions("6.1", "6.1a"), Less);
        assert_eq!(compare_versions("6.10.0", "6.9.12"), Greater);
        assert_eq!(
            compare_versions("5.15.0-101-generic", "5.15.0-99-generic"),
            Greater
        );
    }
}
