fn main() {
    let image = forger::image! {
        metadata name="x" version="1"
        target "disk" kind="raw" {
            disk-size "8G"
            bootloader "both"
            compression "none"
            pool name="tank" boot-environment="be1" {
                property name="ashift" value="12"
                filesystem-property name="compression" value="lz4"
                dataset "export" { property name="mountpoint" value="/export" }
                dataset "export/home"
            }
            layout sector-size=4096 esp-size="256M" {
                partition "esp" role="esp" size="256M"
                partition "boot" role="bios-boot" size="1M" type-guid="21686148-6449-6E6F-744E-656564454649"
                partition "root" role="root"
            }
        }
    };
    image.validate().unwrap();
    let disk = image.targets[0].kind.disk().unwrap();
    assert_eq!(disk.pool.datasets.len(), 2);
    assert_eq!(disk.layout.partitions.len(), 3);
    assert_eq!(disk.layout.sector_size, forger::model::SectorSize::S4096);
}
