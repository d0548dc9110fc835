//! `/etc/fstab` of a Linux image, naming filesystems by the UUIDs the build gave them.

use super::Error;
use crate::stage::{Entry, StagePath, StagingTree};

/// One line of `/etc/fstab`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FstabEntry {
    /// What to mount (`UUID=…`).
    pub spec: String,
    /// Where (`/`, `/boot/efi`).
    pub mountpoint: String,
    /// Filesystem type (`ext4`, `vfat`).
    pub fstype: String,
    /// Mount options (`errors=remount-ro`).
    pub options: String,
    /// `fsck` pass (1 for the root, 2 for others, 0 for none).
    pub pass: u8,
}

impl FstabEntry {
    /// The ext4 root filesystem with UUID `uuid`.
    pub fn ext4_root(uuid: &str) -> Self {
        FstabEntry {
            spec: format!("UUID={uuid}"),
            mountpoint: "/".to_owned(),
            fstype: "ext4".to_owned(),
            options: "errors=remount-ro".to_owned(),
            pass: 1,
        }
    }

    /// The EFI system partition with FAT volume id `volume_id`, mounted at `mountpoint`
    /// (`/boot/efi` on Debian), readable by root only.
    pub fn esp(volume_id: u32, mountpoint: &str) -> Self {
        FstabEntry {
            spec: format!("UUID={}", fat_volume_uuid(volume_id)),
            mountpoint: mountpoint.to_owned(),
            fstype: "vfat".to_owned(),
            options: "umask=0077".to_owned(),
            pass: 2,
        }
    }

    /// The line as written to `/etc/fstab` (fields escaped with octal `\040` as fstab(5)
    /// requires).
    pub fn line(&self) -> String {
        format!(
            "{} {} {} {} 0 {}",
            escape(&self.spec),
            escape(&self.mountpoint),
            escape(&self.fstype),
            escape(&self.options),
            self.pass
        )
    }
}

/// A FAT volume id as blkid and `/dev/disk/by-uuid` spell it (`145A-E072`).
pub fn fat_volume_uuid(volume_id: u32) -> String {
    format!("{:04X}-{:04X}", volume_id >> 16, volume_id & 0xffff)
}

fn escape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    for c in field.chars() {
        match c {
            ' ' | '\t' | '\n' | '\\' | '#' => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Writes `/etc/fstab` (`0:0`, `0644`, mtime `epoch`) with `entries`, replacing any fstab
/// the payload installed.
pub fn write_fstab(
    tree: &mut StagingTree,
    entries: &[FstabEntry],
    epoch: i64,
) -> Result<(), Error> {
    if entries.is_empty() {
        return Err(Error::BadConfig {
            field: "fstab",
            reason: "at least the root filesystem is needed".to_owned(),
        });
    }
    let mut text = String::from(
        "# /etc/fstab: written by Forger with the image's filesystem UUIDs.\n# <file system> <mount point> <type> <options> <dump> <pass>\n",
    );
    for e in entries {
        text.push_str(&e.line());
        text.push('\n');
    }
    let etc = StagePath::new("/etc")?;
    if tree.manifest.get(&etc).is_none() {
        tree.ensure_dir(&etc, 0, 0, 0o755)?;
    }
    let mut entry = Entry::file(0, 0, 0o644);
    entry.mtime = epoch;
    tree.write_file(&etc.join("fstab")?, &mut text.as_bytes(), entry)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_escaped_and_ids_formatted() {
        assert_eq!(fat_volume_uuid(0x145A_E072), "145A-E072");
        let mut e = FstabEntry::esp(0x0000_00ff, "/boot/my efi");
        assert_eq!(
            e.line(),
            "UUID=0000-00FF /boot/my\\040efi vfat umask=0077 0 2"
        );
        e = FstabEntry::ext4_root("1111-2222");
        assert_eq!(e.line(), "UUID=1111-2222 / ext4 errors=remount-ro 0 1");
    }
}
