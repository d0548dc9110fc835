//! Catalog v1 (`catalog.attrs` + `catalog.{base,dependency,summary}.C`): reading with SHA-1
//! signature verification, and writing in pkg5's canonical form (compact JSON, keys sorted,
//! ASCII-escaped, `\n`, then `_SIGNATURE` spliced in before the final brace). Formats from
//! `shared/docs/ips.md` §1.1–§1.3; image state catalogs (§5) are written unsigned.
//!
//! Verification hashes the raw bytes with the trailing `,"_SIGNATURE":{…}}` replaced by `}`,
//! which is robust to encoder differences (`ooce:utf8` parts), instead of re-serialising.

use std::collections::BTreeMap;

use serde_json::Value;
use sha1::{Digest, Sha1};

use super::Error;
use super::action::Action;
use super::fmri::Fmri;
use super::version::Version;

/// The catalog parts a client downloads (locale `C`), in the order pkg lists them.
pub const PARTS: [&str; 3] = [
    "catalog.base.C",
    "catalog.dependency.C",
    "catalog.summary.C",
];

/// One package version as the catalog describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogPackage {
    /// `pkg://<publisher>/<stem>@<version>`.
    pub fmri: Fmri,
    /// SHA-1 of the manifest file's bytes (`catalog.base.C`).
    pub signature_sha1: Option<String>,
    /// `depend` and variant/facet/obsolete/renamed `set` actions (`catalog.dependency.C`).
    pub depends: Vec<Action>,
    /// The remaining `set` actions (`catalog.summary.C`).
    pub summary: Vec<Action>,
}

impl CatalogPackage {
    /// The FMRI's version (catalog FMRIs always have one).
    pub fn version(&self) -> &Version {
        self.fmri
            .version
            .as_ref()
            .expect("catalog FMRIs are built with a version")
    }

    /// True for `set name=pkg.obsolete value=true`.
    pub fn is_obsolete(&self) -> bool {
        self.flag("pkg.obsolete")
    }

    /// True for `set name=pkg.renamed value=true`.
    pub fn is_renamed(&self) -> bool {
        self.flag("pkg.renamed")
    }

    fn flag(&self, name: &str) -> bool {
        self.depends
            .iter()
            .any(|a| a.set_name() == Some(name) && a.attr("value") == Some("true"))
    }
}

/// One publisher's verified catalog, plus the exact bytes of its files for `/var/pkg`.
#[derive(Debug, Clone)]
pub struct PublisherCatalog {
    /// The publisher prefix.
    pub publisher: String,
    /// Stem → versions, ascending.
    pub packages: BTreeMap<String, Vec<CatalogPackage>>,
    /// `catalog.attrs` and each part, byte for byte, by file name.
    pub files: BTreeMap<String, Vec<u8>>,
}

impl PublisherCatalog {
    /// Loads and verifies a publisher's catalog; `fetch(name)` returns a catalog file's bytes.
    /// The attrs file must carry a valid self-signature; every `C` part it lists is fetched
    /// and must match both its own `_SIGNATURE` and the attrs' `signature-sha-1`.
    pub fn load(
        publisher: &str,
        mut fetch: impl FnMut(&str) -> Result<Vec<u8>, Error>,
    ) -> Result<Self, Error> {
        let attrs_bytes = fetch("catalog.attrs")?;
        verify_signed("catalog.attrs", &attrs_bytes)?;
        let attrs: Value = parse_json("catalog.attrs", &attrs_bytes)?;
        let parts = attrs
            .get("parts")
            .and_then(Value::as_object)
            .ok_or_else(|| Error::BadCatalog {
                part: "catalog.attrs".into(),
                reason: "no `parts` object",
            })?;
        let mut files = BTreeMap::new();
        files.insert("catalog.attrs".to_owned(), attrs_bytes.clone());
        let mut json = BTreeMap::new();
        for (name, info) in parts {
            if !name.ends_with(".C") {
                continue;
            }
            let bytes = fetch(name)?;
            let actual = verify_signed(name, &bytes)?;
            if let Some(expected) = info.get("signature-sha-1").and_then(Value::as_str)
                && expected != actual
            {
                return Err(Error::CatalogSignature {
                    part: name.clone(),
                    expected: expected.to_owned(),
                    actual,
                });
            }
            json.insert(name.clone(), parse_json(name, &bytes)?);
            files.insert(name.clone(), bytes);
        }
        let mut cat = PublisherCatalog {
            publisher: publisher.to_owned(),
            packages: BTreeMap::new(),
            files,
        };
        let base = json
            .get("catalog.base.C")
            .ok_or_else(|| Error::BadCatalog {
                part: "catalog.attrs".into(),
                reason: "`catalog.base.C` is not listed",
            })?;
        let mut index: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
        for (stem, entries) in publisher_entries("catalog.base.C", base, publisher)? {
            let mut list = Vec::new();
            for e in entries {
                let vtext = entry_version("catalog.base.C", e)?;
                let version: Version = vtext.parse()?;
                list.push(CatalogPackage {
                    fmri: Fmri {
                        publisher: Some(publisher.to_owned()),
                        stem: stem.clone(),
                        version: Some(version),
                    },
                    signature_sha1: e
                        .get("signature-sha-1")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    depends: Vec::new(),
                    summary: Vec::new(),
                });
            }
            list.sort_by(|a, b| a.version().cmp(b.version()));
            for (i, p) in list.iter().enumerate() {
                index.insert((stem.clone(), p.version().to_string()), (0, i));
            }
            cat.packages.insert(stem, list);
        }
        for (part, is_dep) in [("catalog.dependency.C", true), ("catalog.summary.C", false)] {
            let Some(doc) = json.get(part) else { continue };
            for (stem, entries) in publisher_entries(part, doc, publisher)? {
                for e in entries {
                    let vtext = entry_version(part, e)?;
                    let canon = vtext.parse::<Version>()?.to_string();
                    let Some(&(_, i)) = index.get(&(stem.clone(), canon)) else {
                        return Err(Error::BadCatalog {
                            part: part.into(),
                            reason: "entry for a version that catalog.base.C does not list",
                        });
                    };
                    let mut actions = Vec::new();
                    for a in e
                        .get("actions")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let line = a.as_str().ok_or_else(|| Error::BadCatalog {
                            part: part.into(),
                            reason: "an action that is not a string",
                        })?;
                        actions.push(Action::parse(line)?);
                    }
                    let pkg = &mut cat
                        .packages
                        .get_mut(&stem)
                        .expect("stem indexed from base part")[i];
                    if is_dep {
                        pkg.depends = actions;
                    } else {
                        pkg.summary = actions;
                    }
                }
            }
        }
        Ok(cat)
    }

    /// Every package version, stems in order, versions ascending.
    pub fn iter(&self) -> impl Iterator<Item = &CatalogPackage> {
        self.packages.values().flatten()
    }
}

fn parse_json(part: &str, bytes: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(bytes).map_err(|source| Error::CatalogJson {
        part: part.to_owned(),
        source,
    })
}

fn entry_version<'a>(part: &str, e: &'a Value) -> Result<&'a str, Error> {
    e.get("version")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::BadCatalog {
            part: part.into(),
            reason: "an entry without `version`",
        })
}

/// The `stem → [entries]` map of `publisher` in a part (other `_` keys are metadata).
fn publisher_entries<'a>(
    part: &str,
    doc: &'a Value,
    publisher: &str,
) -> Result<Vec<(String, &'a Vec<Value>)>, Error> {
    let Some(stems) = doc.get(publisher) else {
        return Ok(Vec::new());
    };
    let stems = stems.as_object().ok_or_else(|| Error::BadCatalog {
        part: part.into(),
        reason: "publisher value is not an object",
    })?;
    stems
        .iter()
        .map(|(stem, v)| {
            v.as_array()
                .map(|a| (stem.clone(), a))
                .ok_or_else(|| Error::BadCatalog {
                    part: part.into(),
                    reason: "stem value is not a list",
                })
        })
        .collect()
}

/// Checks a signed catalog file and returns its SHA-1 (hex). The file must end in
/// `,"_SIGNATURE":{"sha-1":"<hex>"}}` (+ newline); the SHA-1 of the file with that replaced
/// by `}` must equal `<hex>`.
pub fn verify_signed(part: &str, bytes: &[u8]) -> Result<String, Error> {
    const KEY: &[u8] = b",\"_SIGNATURE\":";
    let missing = || Error::BadCatalog {
        part: part.to_owned(),
        reason: "no trailing `_SIGNATURE`",
    };
    let pos = bytes
        .windows(KEY.len())
        .rposition(|w| w == KEY)
        .ok_or_else(missing)?;
    let tail = &bytes[pos + 1..];
    let (tail, newline) = match tail.strip_suffix(b"\n") {
        Some(t) => (t, true),
        None => (tail, false),
    };
    let inner = tail.strip_suffix(b"}").ok_or_else(missing)?;
    let sig: Value = serde_json::from_slice(&[b"{", inner, b"}"].concat()).map_err(|source| {
        Error::CatalogJson {
            part: part.to_owned(),
            source,
        }
    })?;
    let expected = sig
        .pointer("/_SIGNATURE/sha-1")
        .and_then(Value::as_str)
        .ok_or_else(missing)?
        .to_owned();
    let mut h = Sha1::new();
    h.update(&bytes[..pos]);
    h.update(if newline { &b"}\n"[..] } else { &b"}"[..] });
    let actual = hex::encode(h.finalize());
    if actual != expected {
        return Err(Error::CatalogSignature {
            part: part.to_owned(),
            expected,
            actual,
        });
    }
    Ok(actual)
}

/// Serialises `value` as pkg5 does: compact, keys sorted, non-ASCII as `\uXXXX`, plus `\n`.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    let mut out = String::new();
    write_value(value, &mut out);
    out.push('\n');
    out.into_bytes()
}

/// [`canonical_json`] with the `_SIGNATURE` (SHA-1 of those bytes) spliced in; returns the
/// file bytes and the signature.
pub fn signed_json(value: &Value) -> (Vec<u8>, String) {
    let mut bytes = canonical_json(value);
    let sig = hex::encode(Sha1::digest(&bytes));
    bytes.truncate(bytes.len() - 2);
    let sep = if bytes.len() > 1 { "," } else { "" };
    bytes.extend_from_slice(format!("{sep}\"_SIGNATURE\":{{\"sha-1\":\"{sig}\"}}}}\n").as_bytes());
    (bytes, sig)
}

fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_value(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(x, out);
            }
            out.push(']');
        }
        Value::String(s) => write_string(s, out),
        other => out.push_str(&other.to_string()),
    }
}

/// A JSON string as Python's `json.dumps(ensure_ascii=True)` writes it.
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `YYYYMMDDTHHMMSSZ` for seconds since the epoch (pkg's basic timestamp without fraction).
pub fn basic_timestamp(epoch: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(epoch);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// UTC calendar fields of an epoch second: (year, month, day, hour, minute, second).
pub fn civil(epoch: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (secs / 3600) as u32,
        (secs / 60 % 60) as u32,
        (secs % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_round_trips_and_detects_tampering() {
        let v: Value = serde_json::json!({"b": {"x": [1, "é"]}, "a": "q\""});
        let (bytes, sig) = signed_json(&v);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with(r#"{"a":"q\"","b":{"x":[1,"\u00e9"]},"_SIGNATURE""#));
        assert_eq!(verify_signed("t", &bytes).unwrap(), sig);
        let mut bad = bytes.clone();
        bad[3] = b'z';
        assert!(matches!(
            verify_signed("t", &bad),
            Err(Error::CatalogSignature { .. })
        ));
    }

    #[test]
    fn timestamps() {
        assert_eq!(basic_timestamp(0), "19700101T000000Z");
        assert_eq!(basic_timestamp(1_482_596_269), "20161224T161749Z");
    }
}
