//! Literal values checked while the macro runs, so a bad size, mode or keyword fails
//! `cargo build` at the token: sizes (`"8G"`), modes (`"0755"`), distributions,
//! architectures and the keyword sets of targets. The rules are those of `forger::model`'s
//! `FromStr` impls (the macro crate cannot depend on `forger`, which depends on it); the
//! DSL-versus-builders test keeps the two in step.

/// A size in bytes from `"8G"`, `"2000M"`, `"8 GiB"`, `"512K"` or a plain count.
pub fn size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

/// Octal permission bits from `"644"`, `"0755"`, `"4755"`.
pub fn mode(text: &str) -> Option<u32> {
    let t = text.trim();
    let t = t.strip_prefix("0o").unwrap_or(t);
    if t.is_empty() || t.len() > 5 || !t.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(t, 8).ok().filter(|v| *v <= 0o7777)
}

/// A distribution, with its package family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Distro {
    /// `omnios`.
    OmniOs,
    /// `openindiana`.
    OpenIndiana,
    /// `ubuntu-<v>`.
    Ubuntu(String),
    /// `debian-<v>`.
    Debian(String),
}

impl Distro {
    /// True for the illumos (IPS) distributions.
    pub fn is_ips(&self) -> bool {
        matches!(self, Distro::OmniOs | Distro::OpenIndiana)
    }
}

/// A distribution name as `forger::model::Distro` parses it.
pub fn distro(text: &str) -> Option<Distro> {
    let lower = text.trim().to_ascii_lowercase();
    let version = |prefix: &str| {
        lower
            .strip_prefix(prefix)
            .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '.'))
            .map(str::to_owned)
    };
    if lower == "omnios" {
        Some(Distro::OmniOs)
    } else if lower == "openindiana" {
        Some(Distro::OpenIndiana)
    } else if let Some(v) = version("ubuntu-") {
        Some(Distro::Ubuntu(v))
    } else {
        version("debian-").map(Distro::Debian)
    }
}

/// A keyword of a closed set: the variant name of the model enum it maps to.
pub struct Keyword {
    /// What the keyword names, for messages ("bootloader").
    pub what: &'static str,
    /// The model type (`Bootloader`).
    pub ty: &'static str,
    /// Accepted spellings (lower case) and the variant each maps to.
    pub spellings: &'static [(&'static str, &'static str)],
    /// The spellings to show in an error.
    pub shown: &'static str,
}

impl Keyword {
    /// The variant for `text` (case-insensitive), if it is a known spelling.
    pub fn variant(&self, text: &str) -> Option<&'static str> {
        let lower = text.trim().to_ascii_lowercase();
        self.spellings
            .iter()
            .find(|(s, _)| *s == lower)
            .map(|(_, v)| *v)
    }
}

/// `bootloader "…"`.
pub const BOOTLOADER: Keyword = Keyword {
    what: "bootloader",
    ty: "Bootloader",
    spellings: &[
        ("uefi", "Uefi"),
        ("efi", "Uefi"),
        ("bios", "Bios"),
        ("legacy", "Bios"),
        ("both", "Both"),
        ("uefi+bios", "Both"),
        ("hybrid", "Both"),
        ("grub", "Grub"),
        ("grub-efi", "Grub"),
        ("grub-efi-amd64-bin", "Grub"),
        ("grub-efi-amd64", "Grub"),
    ],
    shown: "\"uefi\", \"bios\", \"both\" or \"grub\"",
};

/// `filesystem "…"`.
pub const FILESYSTEM: Keyword = Keyword {
    what: "filesystem",
    ty: "FsKind",
    spellings: &[("zfs", "Zfs"), ("ext4", "Ext4")],
    shown: "\"zfs\" or \"ext4\"",
};

/// `compression "…"`.
pub const COMPRESSION: Keyword = Keyword {
    what: "compression",
    ty: "Compression",
    spellings: &[
        ("none", "None"),
        ("off", "None"),
        ("gzip", "Gzip"),
        ("zlib", "Gzip"),
        ("deflate", "Gzip"),
        ("zstd", "Zstd"),
    ],
    shown: "\"none\", \"gzip\" or \"zstd\"",
};

/// `architecture "…"`.
pub const ARCHITECTURE: Keyword = Keyword {
    what: "architecture",
    ty: "Architecture",
    spellings: &[
        ("amd64", "Amd64"),
        ("x86_64", "Amd64"),
        ("x86-64", "Amd64"),
        ("i86pc", "Amd64"),
        ("arm64", "Arm64"),
        ("aarch64", "Arm64"),
    ],
    shown: "\"amd64\" or \"arm64\"",
};

/// `sector-size=…`.
pub const SECTOR_SIZE: Keyword = Keyword {
    what: "sector size",
    ty: "SectorSize",
    spellings: &[("512", "S512"), ("4096", "S4096"), ("4k", "S4096")],
    shown: "\"512\" or \"4096\"",
};

/// `role=…` of a partition.
pub const ROLE: Keyword = Keyword {
    what: "partition role",
    ty: "PartitionRole",
    spellings: &[
        ("esp", "Esp"),
        ("root", "Root"),
        ("bios-boot", "BiosBoot"),
        ("empty", "Empty"),
    ],
    shown: "\"esp\", \"root\", \"bios-boot\" or \"empty\"",
};

/// `kind=…` of a target.
pub const TARGET_KIND: Keyword = Keyword {
    what: "target kind",
    ty: "TargetKind",
    spellings: &[
        ("qcow2", "Qcow2"),
        ("qcow", "Qcow2"),
        ("raw", "Raw"),
        ("oci", "Oci"),
        ("artifact", "Artifact"),
        ("tar", "Artifact"),
    ],
    shown: "\"qcow2\", \"raw\", \"oci\" or \"artifact\"",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_follow_the_model_rules() {
        assert_eq!(size("8G"), Some(8 << 30));
        assert_eq!(size("4000M"), Some(4000 << 20));
        assert_eq!(size("8Q"), None);
        assert_eq!(mode("0755"), Some(0o755));
        assert_eq!(mode("989"), None);
        assert_eq!(distro("debian-12"), Some(Distro::Debian("12".into())));
        assert_eq!(distro("fedora-40"), None);
        assert_eq!(BOOTLOADER.variant("GRUB-efi-amd64-bin"), Some("Grub"));
        assert_eq!(TARGET_KIND.variant("qcow"), Some("Qcow2"));
    }
}
