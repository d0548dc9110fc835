//! Linux boot files derived from a staged root filesystem: what goes on the EFI system
//! partition for systemd-boot ([`systemd_boot`]) and the root's `/etc/fstab` ([`fstab`]).
//!
//! systemd-boot is the loader because it needs neither a chroot nor NVRAM: the firmware
//! starts `EFI/BOOT/BOOTX64.EFI` (the removable-media fallback path) on any disk, and the
//! loader finds its configuration and the kernel as plain files on the ESP. The binary comes
//! from the image's own `systemd-boot-efi` package, so the loader matches the distribution.
//! GRUB would need `grub-mkstandalone` on the host or `grub-install` in a chroot, plus
//! module lists kept in step with the image's kernel.

mod error;
pub mod fstab;
mod resolve;
pub mod systemd_boot;

pub use error::Error;
pub use fstab::{FstabEntry, write_fstab};
pub use systemd_boot::{KernelPair, LinuxBoot, find_kernel};
