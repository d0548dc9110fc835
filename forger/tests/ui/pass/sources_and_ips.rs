fn main() {
    let image = forger::image! {
        metadata name="x" version="1"
        incorporation "entire"
        repositories {
            publisher name="omnios" origin="https://pkg.omnios.org/bloody/core/"
            publisher name="extra.omnios" origin="https://pkg.omnios.org/bloody/extra/"
        }
        certificates { ca publisher="omnios" certfile="omniosce-ca.cert.pem" }
        variants { set name="opensolaris.zone" value="global" }
        facets { set name="doc.man" value=false }
    };
    assert_eq!(image.content.repositories.publishers.len(), 2);
    assert!(!image.content.facets[0].value);
}
