//! GRUB for Linux disks, made without a chroot, without NVRAM and without running any of the
//! image's binaries.
//!
//! The loaders are built by the build host's `grub-mkimage` from the image's own GRUB
//! modules (`/usr/lib/grub/x86_64-efi` of `grub-efi-amd64-bin`, `/usr/lib/grub/i386-pc` of
//! `grub-pc-bin`), so the loader matches the distribution's GRUB while `grub-install` (which
//! wants a chroot, root and, on UEFI, `efibootmgr`) is never needed. Every module the boot
//! needs is linked into the image, so nothing is loaded from disk before `grub.cfg`.
//! `grub-mkimage` writes no timestamps: two runs on the same modules give identical bytes
//! (measured with GRUB 2.06, see `MEASUREMENTS.md`).
//!
//! Debian's and Ubuntu's prebuilt signed monolithic image (`grub-efi-amd64-signed`) is the
//! fallback for UEFI when the image has no `x86_64-efi` modules: its module set and embedded
//! configuration are fixed at the distribution's build, and its signature only matters
//! together with shim under Secure Boot, which Forger does not set up. A `grub-mkimage`
//! image is the same GRUB code with a configuration Forger controls, so it comes first.
//!
//! - UEFI: `EFI/BOOT/BOOTX64.EFI` (the removable-media path firmware boots with no NVRAM
//!   entry), built with prefix `/EFI/BOOT`: GRUB reads `EFI/BOOT/grub.cfg` from the ESP it was
//!   started from.
//! - BIOS: `boot.img` in the MBR and `core.img` in the BIOS boot partition (installed by
//!   [`crate::disk`]); `core.img`'s embedded early configuration finds the ext4 root by UUID
//!   and reads `/boot/grub/grub.cfg` there.
//!
//! Both configurations boot the kernel and initrd [`find_kernel`] picks (the same ones
//! systemd-boot would boot) straight from the ext4 root, with `root=UUID=… rw console=ttyS0`.

use std::io::Read;
use std::path::Path;
use std::process::Command;

use super::Error;
use super::resolve::regular_file;
use super::systemd_boot::{FALLBACK_X64, KernelPair, LinuxBoot, find_kernel};
use crate::fs::{EspFile, EspSource};
use crate::stage::{Entry, EntryKind, StagePath, StagingTree};

/// Where GRUB's UEFI build reads its menu on the ESP (next to `BOOTX64.EFI`).
pub const ESP_CONFIG: &str = "EFI/BOOT/grub.cfg";
/// Where `grub-efi-amd64-signed` installs the distribution's prebuilt UEFI GRUB.
pub const SIGNED_X64: &str = "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed";
/// The BIOS build's menu in the root filesystem.
pub const ROOT_CONFIG: &str = "/boot/grub/grub.cfg";

/// A GRUB platform: which module directory of the image and which `grub-mkimage` format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// x86-64 UEFI (`x86_64-efi`).
    Efi,
    /// PC BIOS (`i386-pc`).
    Bios,
}

impl Platform {
    /// The module directory in the image.
    pub fn modules_dir(self) -> &'static str {
        match self {
            Platform::Efi => "/usr/lib/grub/x86_64-efi",
            Platform::Bios => "/usr/lib/grub/i386-pc",
        }
    }

    /// The Debian/Ubuntu package that ships [`Platform::modules_dir`].
    pub fn package(self) -> &'static str {
        match self {
            Platform::Efi => "grub-efi-amd64-bin",
            Platform::Bios => "grub-pc-bin",
        }
    }

    /// Another way to get a loader for the platform, as a sentence tail for errors.
    fn alternative(self) -> &'static str {
        match self {
            Platform::Efi => " (or `grub-efi-amd64-signed` for the distribution's prebuilt image)",
            Platform::Bios => "",
        }
    }

    fn format(self) -> &'static str {
        match self {
            Platform::Efi => "x86_64-efi",
            Platform::Bios => "i386-pc",
        }
    }

    /// Modules linked into the image: disk and partition access, the filesystems the boot
    /// reads (FAT for the ESP's `grub.cfg`, ext2 for the root), search by UUID, the menu and
    /// the Linux loader, and the serial terminal for headless machines.
    fn modules(self) -> &'static [&'static str] {
        match self {
            Platform::Efi => &[
                "part_gpt",
                "part_msdos",
                "fat",
                "ext2",
                "search",
                "search_fs_uuid",
                "normal",
                "configfile",
                "linux",
                "echo",
                "test",
                "efi_gop",
                "serial",
                "terminal",
            ],
            Platform::Bios => &[
                "biosdisk",
                "part_gpt",
                "part_msdos",
                "ext2",
                "search",
                "search_fs_uuid",
                "normal",
                "configfile",
                "linux",
                "echo",
                "test",
                "serial",
                "terminal",
            ],
        }
    }
}

/// GRUB's BIOS boot images, ready for [`crate::disk::GrubBiosBoot`].
#[derive(Clone, PartialEq, Eq)]
pub struct BiosImages {
    /// `boot.img`: the 512-byte MBR boot code.
    pub boot_img: Vec<u8>,
    /// `core.img`: `diskboot.img`, the decompressor and the kernel with its modules.
    pub core_img: Vec<u8>,
}

impl std::fmt::Debug for BiosImages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BiosImages")
            .field("boot_img", &self.boot_img.len())
            .field("core_img", &self.core_img.len())
            .finish()
    }
}

/// GRUB for the Linux image described by `linux` (root UUID, command line, title, timeout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrubBoot {
    /// The entry: root UUID, extra kernel arguments, menu title and timeout.
    pub linux: LinuxBoot,
}

impl GrubBoot {
    /// GRUB booting the entry `linux`.
    pub fn new(linux: LinuxBoot) -> Self {
        GrubBoot { linux }
    }

    /// The `grub.cfg` for `platform`: one menu entry that finds the root filesystem by UUID
    /// and boots the newest kernel with its initrd from it. The BIOS menu also talks on the
    /// first serial port (UEFI firmware already mirrors its console there).
    pub fn config(&self, tree: &StagingTree, platform: Platform) -> Result<String, Error> {
        self.linux.validate()?;
        if self.linux.title.contains(['\'', '\n']) {
            return Err(Error::BadConfig {
                field: "title",
                reason: "GRUB menu titles may not contain `'` or newlines".to_owned(),
            });
        }
        let k = find_kernel(&tree.manifest)?;
        check_grub_word(&k)?;
        let mut cfg = String::from("# Written by Forger.\nset default=0\n");
        cfg.push_str(&format!("set timeout={}\n", self.linux.timeout));
        if platform == Platform::Bios {
            cfg.push_str(
                "serial --unit=0 --speed=115200\nterminal_input serial console\nterminal_output serial console\n",
            );
        }
        cfg.push_str(&format!(
            "search --no-floppy --fs-uuid --set=root {uuid}\n\
             menuentry '{title}' {{\n\
             \techo 'Loading Linux {version} ...'\n\
             \tlinux {kernel} {cmdline}\n\
             \tinitrd {initrd}\n\
             }}\n",
            uuid = self.linux.root_uuid,
            title = self.linux.title,
            version = k.version,
            kernel = k.kernel,
            initrd = k.initrd,
            cmdline = self.linux.kernel_cmdline(),
        ));
        Ok(cfg)
    }

    /// The ESP's files for UEFI: the GRUB image at `EFI/BOOT/BOOTX64.EFI` and its
    /// `EFI/BOOT/grub.cfg`. The image is linked from the image's `grub-efi-amd64-bin`
    /// modules when they are there, else it is the distribution's prebuilt
    /// [`SIGNED_X64`] (see [`efi_loader`]). Fails when the image has neither or no kernel
    /// with an initrd, or the host lacks `grub-mkimage` where it is needed.
    pub fn esp_files(&self, tree: &StagingTree) -> Result<Vec<EspFile>, Error> {
        let cfg = self.config(tree, Platform::Efi)?;
        Ok(vec![
            EspFile {
                path: FALLBACK_X64.to_owned(),
                source: efi_loader(tree)?,
            },
            EspFile {
                path: ESP_CONFIG.to_owned(),
                source: EspSource::Bytes(cfg.into_bytes()),
            },
        ])
    }

    /// The BIOS images for a root filesystem in GPT partition `root_partition` (1-based):
    /// `core.img`'s early configuration searches the root by UUID and falls back to
    /// `(hd0,gpt<root_partition>)`. Also writes [`ROOT_CONFIG`] into `tree` (mtime `epoch`).
    pub fn bios_images(
        &self,
        tree: &mut StagingTree,
        root_partition: u32,
        epoch: i64,
    ) -> Result<BiosImages, Error> {
        let cfg = self.config(tree, Platform::Bios)?;
        let early = format!(
            "search --no-floppy --fs-uuid --set=root {}\nset prefix=($root)/boot/grub\n",
            self.linux.root_uuid
        );
        let core_img = mkimage(
            tree,
            Platform::Bios,
            Some(&early),
            &format!("(hd0,gpt{root_partition})/boot/grub"),
        )?;
        let boot_img = read_staged(
            tree,
            &format!("{}/boot.img", Platform::Bios.modules_dir()),
            Platform::Bios,
        )?;
        let path = StagePath::new(ROOT_CONFIG)?;
        tree.ensure_dir_parents(&path.parent().expect("has a parent"))?;
        let mut entry = Entry::file(0, 0, 0o644);
        entry.mtime = epoch;
        tree.write_file(&path, &mut cfg.as_bytes(), entry)?;
        Ok(BiosImages { boot_img, core_img })
    }
}

/// The UEFI GRUB image for `EFI/BOOT/BOOTX64.EFI`.
///
/// With the image's `x86_64-efi` modules: a `grub-mkimage` image with prefix `/EFI/BOOT`, so
/// GRUB reads `grub.cfg` next to itself on the ESP it was started from.
///
/// Without them but with Debian's or Ubuntu's `grub-efi-amd64-signed`: its prebuilt
/// monolithic `grubx64.efi.signed`, copied as is. Its prefix is the distribution's ESP
/// directory (`/EFI/debian`), and its embedded configuration reads `$prefix/grub.cfg` when
/// that directory exists, else `/boot/grub/grub.cfg` on the same device, else
/// `$cmdpath/grub.cfg`. Forger's ESP holds neither of the first two, so the image started
/// from `EFI/BOOT` reads the same `EFI/BOOT/grub.cfg` (checked by booting it in
/// `tests/it/grub.rs`). Secure Boot would also need shim, which this does not install.
fn efi_loader(tree: &StagingTree) -> Result<EspSource, Error> {
    let modules = StagePath::new(Platform::Efi.modules_dir())?;
    if tree.manifest.get(&modules).is_none()
        && let Ok(signed) = regular_file(&tree.manifest, SIGNED_X64)
    {
        return Ok(EspSource::Staged(signed));
    }
    let prefix = format!("/{}", ESP_CONFIG.rsplit_once('/').map_or("", |(d, _)| d));
    Ok(EspSource::Bytes(mkimage(
        tree,
        Platform::Efi,
        None,
        &prefix,
    )?))
}

/// Kernel and initrd paths go into `grub.cfg` unquoted; allow only characters that need no
/// quoting there.
fn check_grub_word(k: &KernelPair) -> Result<(), Error> {
    for p in [&k.kernel, &k.initrd] {
        if !p
            .as_str()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._+-~".contains(c))
        {
            return Err(Error::BadConfig {
                field: "kernel",
                reason: format!("`{p}` has characters GRUB's configuration would need quoted"),
            });
        }
    }
    Ok(())
}

/// Runs the host's `grub-mkimage` for `platform` on a copy of the image's module directory,
/// with the early configuration `early` (if any) and `prefix`; returns the image's bytes.
fn mkimage(
    tree: &StagingTree,
    platform: Platform,
    early: Option<&str>,
    prefix: &str,
) -> Result<Vec<u8>, Error> {
    let work = tempfile::tempdir().map_err(Error::io(std::env::temp_dir()))?;
    let modules = work.path().join(platform.format());
    copy_modules(tree, platform, &modules)?;
    let out = work.path().join("image");
    let mut cmd = Command::new(mkimage_tool());
    cmd.arg("-O")
        .arg(platform.format())
        .arg("-d")
        .arg(&modules)
        .arg("-p")
        .arg(prefix)
        .arg("-o")
        .arg(&out);
    if let Some(early) = early {
        let cfg = work.path().join("early.cfg");
        std::fs::write(&cfg, early).map_err(Error::io(&cfg))?;
        cmd.arg("-c").arg(&cfg);
    }
    cmd.args(platform.modules());
    let line = format!("{cmd:?}");
    let output = cmd.output().map_err(|e| Error::GrubTool {
        command: line.clone(),
        reason: e.to_string(),
    })?;
    if !output.status.success() {
        return Err(Error::GrubTool {
            command: line,
            reason: format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    std::fs::read(&out).map_err(Error::io(&out))
}

/// `grub-mkimage`, or `grub2-mkimage` where the host names it so (Fedora); the first found
/// on `PATH`.
fn mkimage_tool() -> &'static str {
    let on_path = |name: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
    };
    ["grub-mkimage", "grub2-mkimage"]
        .into_iter()
        .find(|n| on_path(n))
        .unwrap_or("grub-mkimage")
}

/// Copies the regular files (symlinks resolved in the image) of `platform`'s module
/// directory to `dest` on the host, where `grub-mkimage -d` can read them.
fn copy_modules(tree: &StagingTree, platform: Platform, dest: &Path) -> Result<(), Error> {
    let dir_name = platform.modules_dir();
    let missing = || Error::NoGrubModules {
        dir: dir_name.to_owned(),
        package: platform.package(),
        alternative: platform.alternative(),
    };
    let dir = StagePath::new(dir_name)?;
    let names: Vec<String> = tree
        .manifest
        .children(&dir)
        .filter(|(_, e)| !matches!(e.kind, EntryKind::Directory))
        .map(|(p, _)| p.file_name().to_owned())
        .collect();
    if !names.iter().any(|n| n == "kernel.img") || !names.iter().any(|n| n == "moddep.lst") {
        return Err(missing());
    }
    std::fs::create_dir_all(dest).map_err(Error::io(dest))?;
    for name in names {
        let bytes = read_staged(tree, &format!("{dir_name}/{name}"), platform)?;
        let to = dest.join(&name);
        std::fs::write(&to, bytes).map_err(Error::io(&to))?;
    }
    Ok(())
}

fn read_staged(tree: &StagingTree, path: &str, platform: Platform) -> Result<Vec<u8>, Error> {
    let file = regular_file(&tree.manifest, path).map_err(|_| Error::NoGrubModules {
        dir: path.to_owned(),
        package: platform.package(),
        alternative: platform.alternative(),
    })?;
    let mut bytes = Vec::new();
    tree.open_file(&file)?
        .read_to_end(&mut bytes)
        .map_err(Error::io(tree.host_path(&file)))?;
    Ok(bytes)
}
