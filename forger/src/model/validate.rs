//! [`Image::validate`]: every problem the model can show without touching the disk, all at
//! once, each naming the node and what to do. Checks that need files (overlay sources,
//! owners in the image's passwd) and profiles belong to the plan.

use std::collections::BTreeSet;

use super::{
    Bootloader, Error, Family, Fragment, FsKind, Image, Overlay, PartitionRole, Problem,
    SectorSize, Size, TargetKind,
};

impl Image {
    /// Checks the image, its base chain and its includes; returns every problem found.
    pub fn validate(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        self.check(&mut problems, "");
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid { problems })
        }
    }

    fn check(&self, out: &mut Vec<Problem>, prefix: &str) {
        let distro = self.distro();
        let family = distro.family();
        if self.metadata.name.trim().is_empty() {
            out.push(Problem::new(
                format!("{prefix}metadata"),
                "the image name is empty",
                "give the image a name: metadata name=\"my-image\"",
            ));
        }
        if self.metadata.version.trim().is_empty() {
            out.push(Problem::new(
                format!("{prefix}metadata"),
                "the image version is empty",
                "give the image a version: metadata version=\"1.0.0\"",
            ));
        }
        let mut names = BTreeSet::new();
        for t in &self.targets {
            let at = format!("{prefix}target \"{}\"", t.name);
            if t.name.is_empty() || t.name.contains('/') || t.name.starts_with('.') {
                out.push(Problem::new(
                    &at,
                    "the target name cannot name an output file",
                    "use letters, digits, `-`, `_` and `.` (not leading)",
                ));
            }
            if !names.insert(t.name.as_str()) {
                out.push(Problem::new(
                    &at,
                    "two targets have this name",
                    "rename one of them: target names name the output files",
                ));
            }
            if let Some(disk) = t.kind.disk() {
                check_disk(disk, family, &distro.to_string(), &at, out);
            }
            if let TargetKind::Oci(oci) = &t.kind {
                for port in &oci.exposed_ports {
                    if !valid_port(port) {
                        out.push(Problem::new(
                            &at,
                            format!("exposed port `{port}` is not PORT or PORT/PROTO"),
                            "write ports like \"80/tcp\", \"53/udp\" or \"8080\"",
                        ));
                    }
                }
            }
        }
        self.content.check(out, prefix, family);
        if let Some(base) = &self.base {
            base.check(out, &format!("{prefix}base \"{}\": ", base.metadata.name));
        }
    }
}

fn check_disk(
    disk: &super::DiskTarget,
    family: Family,
    distro: &str,
    at: &str,
    out: &mut Vec<Problem>,
) {
    let fs = disk.filesystem.unwrap_or(match family {
        Family::Ips => FsKind::Zfs,
        Family::Apt => FsKind::Ext4,
    });
    match (family, fs) {
        (Family::Ips, FsKind::Ext4) => out.push(Problem::new(
            at,
            format!("{distro} cannot boot from ext4"),
            "use filesystem \"zfs\" for illumos distributions",
        )),
        (Family::Apt, FsKind::Zfs) => out.push(Problem::new(
            at,
            format!("Forger has no ZFS root support for {distro}"),
            "use filesystem \"ext4\" for Debian and Ubuntu",
        )),
        _ => {}
    }
    if family == Family::Ips && disk.bootloader == Some(Bootloader::Grub) {
        out.push(Problem::new(
            at,
            format!("bootloader \"grub\" is not available for {distro}"),
            "illumos boots with its own loader: use \"uefi\", \"bios\" or \"both\"",
        ));
    }
    if family == Family::Apt
        && matches!(disk.bootloader, Some(Bootloader::Bios | Bootloader::Both))
        && disk.layout.sector_size == SectorSize::S4096
    {
        out.push(Problem::new(
            at,
            "GRUB's BIOS boot code reads 512-byte sectors; this disk has 4096-byte sectors",
            "BIOS firmware does not boot 4Kn disks: use layout sector-size=512, or bootloader \"uefi\" or \"grub\"",
        ));
    }
    if let Some(ashift) = disk.pool.property("ashift")
        && !matches!(ashift, "9" | "12")
    {
        out.push(Problem::new(
            at,
            format!("pool property ashift={ashift} is not supported"),
            "use ashift 9 (512-byte blocks) or 12 (4 KiB blocks)",
        ));
    }
    let minimum = Size::mib(if family == Family::Ips { 320 } else { 600 });
    if disk.disk_size < minimum {
        out.push(Problem::new(
            at,
            format!(
                "disk-size {} is smaller than the minimum {minimum}",
                disk.disk_size
            ),
            format!("give the disk at least {minimum}: the ESP and the root filesystem must fit"),
        ));
    }
    let parts = &disk.layout.partitions;
    if !parts.is_empty() {
        if !parts.iter().any(|p| p.role == PartitionRole::Root) {
            out.push(Problem::new(
                at,
                "the custom layout has no root partition",
                "add a partition with role \"root\"",
            ));
        }
        for (i, p) in parts.iter().enumerate() {
            if p.size.is_none() && i + 1 != parts.len() {
                out.push(Problem::new(
                    at,
                    format!(
                        "partition \"{}\" has no size but is not the last one",
                        p.name
                    ),
                    "only the last partition may take the rest of the disk",
                ));
            }
        }
    }
    for ds in &disk.pool.datasets {
        if ds.name.is_empty() || ds.name.starts_with('/') || ds.name.split('/').any(str::is_empty) {
            out.push(Problem::new(
                at,
                format!("dataset name `{}` is not a path below the pool", ds.name),
                "name datasets relative to the pool, like \"export/home\"",
            ));
        }
    }
}

fn valid_port(port: &str) -> bool {
    let (num, proto) = port.split_once('/').unwrap_or((port, "tcp"));
    num.parse::<u16>().is_ok_and(|n| n > 0) && matches!(proto, "tcp" | "udp" | "sctp")
}

fn absolute(path: &str) -> bool {
    path.starts_with('/') && !path.split('/').any(|c| c == "..")
}

impl Fragment {
    fn check(&self, out: &mut Vec<Problem>, prefix: &str, family: Family) {
        let mut users = BTreeSet::new();
        for c in &self.customizations {
            for u in &c.users {
                if !users.insert(u.name.as_str()) {
                    out.push(Problem::new(
                        format!("{prefix}customization user \"{}\"", u.name),
                        "this user is declared twice",
                        "declare each user once",
                    ));
                }
                if u.name.is_empty() || u.name.contains(':') || u.name.contains('/') {
                    out.push(Problem::new(
                        format!("{prefix}customization user \"{}\"", u.name),
                        "not a valid login name",
                        "use lower-case letters, digits, `-` and `_`",
                    ));
                }
            }
        }
        if family == Family::Apt && !self.repositories.publishers.is_empty() {
            out.push(Problem::new(
                format!("{prefix}repositories"),
                "IPS publishers are set on an APT distribution",
                "use apt-mirror for Debian and Ubuntu, or distro \"omnios\" for IPS",
            ));
        }
        if family == Family::Ips && !self.repositories.apt_mirrors.is_empty() {
            out.push(Problem::new(
                format!("{prefix}repositories"),
                "APT mirrors are set on an IPS distribution",
                "use publisher for illumos distributions",
            ));
        }
        for p in self.packages.iter().flat_map(|set| &set.packages) {
            if !p.is_valid() {
                out.push(Problem::new(
                    format!("{prefix}packages"),
                    format!("`{p}` is not a package name"),
                    "give a package name or FMRI without spaces, e.g. \"openssh-server\"",
                ));
            }
        }
        for (i, set) in self.overlays.iter().enumerate() {
            for action in &set.actions {
                let (what, paths): (&str, Vec<&str>) = match action {
                    Overlay::File(f) => ("file", vec![f.destination.as_str()]),
                    Overlay::EnsureDir(d) => ("ensure-dir", vec![d.path.as_str()]),
                    Overlay::EnsureSymlink(s) => ("ensure-symlink", vec![s.path.as_str()]),
                    Overlay::RemoveFiles(r) => (
                        "remove-files",
                        r.files
                            .iter()
                            .chain(&r.dirs)
                            .chain(&r.patterns)
                            .map(String::as_str)
                            .collect(),
                    ),
                    Overlay::Shadow(_) | Overlay::Devfsadm => continue,
                };
                for p in paths {
                    if !absolute(p) || p == "/" && what != "ensure-dir" {
                        out.push(Problem::new(
                            format!("{prefix}overlays[{i}] {what} \"{p}\""),
                            "the path must be absolute inside the image, without `..`",
                            "write paths like \"/etc/hosts\"",
                        ));
                    }
                }
                if let Overlay::File(f) = action
                    && f.source.is_some()
                    && f.content.is_some()
                {
                    out.push(Problem::new(
                        format!("{prefix}overlays[{i}] file \"{}\"", f.destination),
                        "both source and content are given",
                        "give either a source file or inline content",
                    ));
                }
            }
        }
        for inc in &self.includes {
            let name = inc.name.as_deref().unwrap_or("fragment");
            inc.check(out, &format!("{prefix}include \"{name}\": "), family);
        }
    }
}
