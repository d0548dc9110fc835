fn main() {
    let image = forger::image! {
        metadata name="x" version="1"
        target "ctr" kind="oci" {
            entrypoint command="/bin/sh -c"
            cmd "echo" "hi"
            environment { set "PATH" "/usr/bin:/bin" }
            env "LANG" "C.UTF-8"
            working-dir "/root"
            user "0:0"
            label "a" "1"
            label "b" "2"
            annotation "c" "3"
            expose "22/tcp" "53/udp" "8080"
            compression "zstd"
            push-to "localhost:5000/x:1"
        }
    };
    image.validate().unwrap();
    let forger::model::TargetKind::Oci(oci) = &image.targets[0].kind else { panic!() };
    assert_eq!(oci.entrypoint, vec!["/bin/sh", "-c"]);
    assert_eq!(oci.env.len(), 2);
    assert_eq!(oci.labels.len(), 2);
    assert_eq!(oci.exposed_ports.len(), 3);
    assert_eq!(oci.compression, forger::model::Compression::Zstd);
}
