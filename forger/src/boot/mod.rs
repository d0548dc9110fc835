//! Linux boot files derived from a staged root filesystem: what goes on the EFI system
//! partition for systemd-boot ([`systemd_boot`]) or GRUB ([`grub`], UEFI and BIOS), and the
//! root's `/etc/fstab` ([`fstab`]).
//!
//! Both loaders need neither a chroot nor NVRAM: the firmware starts `EFI/BOOT/BOOTX64.EFI`
//! (the removable-media fallback path) on any disk, and the loader finds its configuration
//! and the kernel as plain files. systemd-boot is copied from the image's `systemd-boot-efi`
//! package; GRUB is linked by the host's `grub-mkimage` from the image's own GRUB modules,
//! which is also how BIOS boot (`boot.img` + `core.img`) is made.

mod error;
pub mod fstab;
pub mod grub;
mod resolve;
pub mod systemd_boot;

pub use error::Error;
pub use fstab::{FstabEntry, write_fstab};
pub use grub::{BiosImages, GrubBoot, Platform};
pub use systemd_boot::{KernelPair, LinuxBoot, find_kernel};
