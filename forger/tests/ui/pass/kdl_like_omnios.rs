fn main() {
    let image = forger::image! {
        metadata name="omnios-rust-ci" version="0.1.0" description="OmniOS bloody CI image with Rust"
        distro "omnios"
        repositories {}
        packages {
            package "/system/management/cloud-init"
            package "/developer/lang/rust"
        }
        overlays {
            shadow username="root" password="$5$kr1VgdIt$OUiUAyZCDogH"
            file destination="/etc/default/init" source="default_init.utc" owner="root" group="root" mode="644"
        }
        target "qcow2" kind="qcow2" {
            disk-size "4000M"
            bootloader "uefi"
            filesystem "zfs"
            push-to "ghcr.io/cloudnebulaproject/omnios-rust:latest"
            pool {
                property name="ashift" value="12"
            }
        }
    };
    image.validate().unwrap();
    let disk = image.targets[0].kind.disk().unwrap();
    assert_eq!(disk.disk_size, forger::model::Size::mib(4000));
    assert_eq!(disk.pool.property("ashift"), Some("12"));
}
