//! Reproducible identifiers. Every GUID, UUID, volume id, pool GUID and ZAP salt is derived
//! from the image's [`Seed`] and a stable key naming its use, so two builds of the same image
//! are byte-identical and adding an identifier never shifts the others (unlike a seeded RNG).

use sha2::{Digest, Sha256};

/// The seed of one build output: by default `name`, `version` and target name of the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed(String);

impl Seed {
    /// A seed from any text (for example the `--seed` override).
    pub fn new(text: impl Into<String>) -> Self {
        Seed(text.into())
    }

    /// The default seed of a target: `name/version/target`.
    pub fn for_target(name: &str, version: &str, target: &str) -> Self {
        Seed(format!("{name}/{version}/{target}"))
    }

    /// 32 bytes derived from the seed and `key`.
    pub fn bytes(&self, key: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"forger-seed-v1\0");
        h.update(self.0.as_bytes());
        h.update(b"\0");
        h.update(key.as_bytes());
        h.finalize().into()
    }

    /// A non-zero 64-bit value (ZFS GUIDs must not be 0).
    pub fn u64(&self, key: &str) -> u64 {
        let b = self.bytes(key);
        let v = u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
        if v == 0 { 1 } else { v }
    }

    /// A 32-bit value (FAT volume ids).
    pub fn u32(&self, key: &str) -> u32 {
        let b = self.bytes(key);
        u32::from_le_bytes(b[..4].try_into().expect("4 bytes"))
    }

    /// An RFC 4122 version-4-shaped UUID as 16 bytes in big-endian (text) order.
    pub fn uuid_bytes(&self, key: &str) -> [u8; 16] {
        let mut u: [u8; 16] = self.bytes(key)[..16].try_into().expect("16 bytes");
        u[6] = (u[6] & 0x0f) | 0x40;
        u[8] = (u[8] & 0x3f) | 0x80;
        u
    }

    /// The UUID as lower-case text `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    pub fn uuid(&self, key: &str) -> String {
        let u = self.uuid_bytes(key);
        let h = hex::encode(u);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_values_are_stable_and_key_separated() {
        let s = Seed::for_target("img", "1.0", "qcow2");
        assert_eq!(
            s.uuid("disk"),
            Seed::for_target("img", "1.0", "qcow2").uuid("disk")
        );
        assert_ne!(s.uuid("disk"), s.uuid("esp"));
        assert_ne!(
            s.u64("pool"),
            Seed::for_target("img", "1.1", "qcow2").u64("pool")
        );
        let u = s.uuid("x");
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }
}
