fn main() {
    let image = forger::image! {
        metadata name="x" version="1"
        distro "ubuntu-22.04"
        architecture "arm64"
        build-host "host"
        repositories {
            apt-mirror "http://archive.ubuntu.com/ubuntu" suite="jammy" components="main universe"
        }
        builder { vcpus 4; memory 4096; disk 20; image "oci://x"; binary "oci://y" sha256="ab" }
        target "disk" kind="qcow2" { disk-size "8G" bootloader "grub" filesystem "ext4" }
    };
    image.validate().unwrap();
    assert_eq!(image.content.repositories.apt_mirrors[0].components, vec!["main", "universe"]);
    assert_eq!(image.builder_vm.unwrap().memory_mb, Some(4096));
    assert_eq!(image.architecture, Some(forger::model::Architecture::Arm64));
}
