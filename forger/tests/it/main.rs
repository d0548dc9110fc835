//! Integration tests of the `forger` library against real external readers (zdb, sgdisk,
//! fsck.fat, mtools, qemu-img, e2fsck, skopeo, umoci, a distribution registry). One binary,
//! one module per reader or output format. Tools are installed by
//! `scripts/install-test-deps.sh` (the README's test command runs it); a missing tool fails
//! the test with that hint rather than skipping it.

mod apt;
mod apt_layers;
mod archive;
mod cache;
mod disk;
mod dsl;
mod ext4;
mod grub;
mod illumos;
mod ips;
mod ips_fixture;
mod ips_pkg;
mod linux_boot;
mod oci;
mod omnios;
mod registry;
mod stage;
mod util;
mod zfs;
