//! Canonical JSON: object keys sorted byte-wise, no insignificant whitespace. OCI digests are
//! over bytes, so the same image must serialise to the same bytes whatever order a
//! `HashMap` (labels, annotations in oci-spec) happened to iterate in.

use serde::Serialize;
use serde_json::Value;

/// Serialises `value` canonically.
pub(crate) fn canonical<T: Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let v = serde_json::to_value(value)?;
    let mut out = Vec::new();
    write_value(&v, &mut out)?;
    Ok(out)
}

fn write_value(v: &Value, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, k)?;
                out.push(b':');
                write_value(&map[k.as_str()], out)?;
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(&mut *out, scalar)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn keys_are_sorted_at_every_level() {
        let mut m = HashMap::new();
        for k in ["zeta", "alpha", "mid", "Beta"] {
            m.insert(k.to_owned(), vec![HashMap::from([("y", 1), ("x", 2)])]);
        }
        let s = String::from_utf8(canonical(&m).unwrap()).unwrap();
        assert_eq!(
            s,
            r#"{"Beta":[{"x":2,"y":1}],"alpha":[{"x":2,"y":1}],"mid":[{"x":2,"y":1}],"zeta":[{"x":2,"y":1}]}"#
        );
    }
}
