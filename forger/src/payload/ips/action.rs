//! The manifest action grammar of pkg(5): parsing one action line, joining a manifest's
//! continuation lines, and printing an action back the way pkg's `Action.__str__` does
//! (`shared/docs/ips.md` §4.1; pkg5 `actions/_actions.c`, `manifest.py`, `generic.py`).
//!
//! Downloaded manifests are stored byte for byte elsewhere (the catalog signs the exact bytes);
//! printing exists for catalogs' dependency/summary parts and for diagnostics.

use std::collections::BTreeMap;
use std::fmt;

use super::Error;

/// Action types that may carry a positional payload hash.
const PAYLOAD_TYPES: [&str; 3] = ["file", "license", "signature"];

/// Every action type pkg knows.
const KNOWN_TYPES: [&str; 13] = [
    "set",
    "depend",
    "dir",
    "file",
    "link",
    "hardlink",
    "driver",
    "user",
    "group",
    "legacy",
    "license",
    "signature",
    "unknown",
];

/// One manifest action: its type, the payload hash (positional or `hash=`) and its attributes.
/// Attribute values are lists because any key may repeat (`alias=a alias=b`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// `file`, `dir`, `depend`, …
    pub kind: String,
    /// The SHA-1 of the uncompressed payload, for `file`, `license` and `signature`.
    pub hash: Option<String>,
    /// Attributes in key order; values in the order they appear.
    pub attrs: BTreeMap<String, Vec<String>>,
}

impl Action {
    /// Parses one (already joined) action line.
    pub fn parse(line: &str) -> Result<Action, Error> {
        let bad = |reason: &'static str, offset: usize| Error::BadAction {
            line: line.to_owned(),
            offset,
            reason,
        };
        let s = line.trim_start();
        let lead = line.len() - s.len();
        let type_end = s.find(char::is_whitespace).unwrap_or(s.len());
        let kind = &s[..type_end];
        if !KNOWN_TYPES.contains(&kind) {
            return Err(bad("unknown action type", lead));
        }
        let b = s.as_bytes();
        let mut i = type_end;
        let mut hash: Option<String> = None;
        let mut attrs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut first = true;
        loop {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i >= b.len() {
                break;
            }
            let tok_start = i;
            // A key runs up to `=`; a token reaching whitespace first is a positional hash.
            while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() {
                if b[i] == b'"' || b[i] == b'\'' {
                    return Err(bad("quote in attribute name", lead + i));
                }
                i += 1;
            }
            if i >= b.len() || b[i] != b'=' {
                if !first || !PAYLOAD_TYPES.contains(&kind) {
                    return Err(bad("attribute without `=`", lead + tok_start));
                }
                hash = Some(s[tok_start..i].to_owned());
                first = false;
                continue;
            }
            first = false;
            let key = &s[tok_start..i];
            if key.is_empty() {
                return Err(bad("empty attribute name", lead + tok_start));
            }
            if key == "data" {
                return Err(bad("`data` is not an allowed attribute", lead + tok_start));
            }
            i += 1;
            let value = if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let mut value = String::new();
                loop {
                    let q = b[i];
                    i += 1;
                    let mut closed = false;
                    let mut seg = Vec::new();
                    while i < b.len() {
                        if b[i] == b'\\' && i + 1 < b.len() && (b[i + 1] == q || b[i + 1] == b'\\')
                        {
                            seg.push(b[i + 1]);
                            i += 2;
                        } else if b[i] == q {
                            closed = true;
                            i += 1;
                            break;
                        } else {
                            seg.push(b[i]);
                            i += 1;
                        }
                    }
                    if !closed {
                        return Err(bad("unterminated quoted value", lead + tok_start));
                    }
                    value.push_str(
                        std::str::from_utf8(&seg).expect("split at ASCII bytes of UTF-8 text"),
                    );
                    if i < b.len() && !b[i].is_ascii_whitespace() {
                        return Err(bad("text right after a closing quote", lead + i));
                    }
                    // Adjacent quoted strings concatenate: `value="a " "b"`.
                    let mut j = i;
                    while j < b.len() && b[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    if j < b.len() && (b[j] == b'"' || b[j] == b'\'') {
                        i = j;
                        continue;
                    }
                    break;
                }
                value
            } else {
                let start = i;
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                if start == i {
                    return Err(bad("attribute without a value", lead + tok_start));
                }
                s[start..i].to_owned()
            };
            if key == "hash" {
                match &hash {
                    Some(h) if *h != value => {
                        return Err(bad(
                            "`hash=` differs from the positional hash",
                            lead + tok_start,
                        ));
                    }
                    _ => hash = Some(value),
                }
                continue;
            }
            attrs.entry(key.to_owned()).or_default().push(value);
        }
        Ok(Action {
            kind: kind.to_owned(),
            hash,
            attrs,
        })
    }

    /// The first value of `key`.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .get(key)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// Every value of `key` (empty when absent).
    pub fn values(&self, key: &str) -> &[String] {
        self.attrs.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// For `set` actions: the `name` attribute.
    pub fn set_name(&self) -> Option<&str> {
        if self.kind == "set" {
            self.attr("name")
        } else {
            None
        }
    }
}

impl fmt::Display for Action {
    /// pkg's serialisation: type, positional hash, attributes sorted by key, repeated keys as
    /// repeated `k=v`, values quoted only when they must be.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.kind)?;
        if let Some(h) = &self.hash {
            write!(f, " {h}")?;
        }
        for (k, vs) in &self.attrs {
            for v in vs {
                write!(f, " {k}={}", quote_value(v))?;
            }
        }
        Ok(())
    }
}

/// Quotes a value as pkg does: only when it holds a space, a quote, `$(`, or is empty;
/// `"…"` unless it holds `"`, then `'…'`, and `"…"` with `\"` when it holds both.
pub fn quote_value(v: &str) -> String {
    let needs =
        v.is_empty() || v.contains(' ') || v.contains('"') || v.contains('\'') || v.contains("$(");
    if !needs {
        v.to_owned()
    } else if !v.contains('"') {
        format!("\"{v}\"")
    } else if !v.contains('\'') {
        format!("'{v}'")
    } else {
        format!("\"{}\"", v.replace('"', "\\\""))
    }
}

/// Splits manifest text into logical action lines: lines are left-trimmed, a trailing `\`
/// joins the next line with nothing inserted, blank lines and `#` comments are dropped.
pub fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut acc = String::new();
    for raw in text.lines() {
        let l = raw.trim_start();
        if let Some(head) = l.strip_suffix('\\') {
            acc.push_str(head);
            continue;
        }
        let line = if acc.is_empty() {
            l.to_owned()
        } else {
            let mut joined = std::mem::take(&mut acc);
            joined.push_str(l);
            joined
        };
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(line);
    }
    if !acc.trim().is_empty() && !acc.starts_with('#') {
        out.push(acc);
    }
    out
}

/// Parses a whole published manifest into its actions.
pub fn parse_manifest(text: &str) -> Result<Vec<Action>, Error> {
    logical_lines(text)
        .iter()
        .map(|l| Action::parse(l))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_escapes() {
        let a = Action::parse(r#"set name=pkg.summary value="Nginx \"web\" server""#).unwrap();
        assert_eq!(a.attr("value"), Some(r#"Nginx "web" server"#));
        let a = Action::parse(r#"set name=x value='it\'s' other="a\tb""#).unwrap();
        assert_eq!(a.attr("value"), Some("it's"));
        assert_eq!(a.attr("other"), Some(r"a\tb"));
        let a = Action::parse(r#"set name=x value="a " "b""#).unwrap();
        assert_eq!(a.attr("value"), Some("a b"));
        let a = Action::parse(r#"driver name=fuse devlink=type=ddi_pseudo;name=fuse\t\D"#).unwrap();
        assert_eq!(a.attr("devlink"), Some(r"type=ddi_pseudo;name=fuse\t\D"));
    }

    #[test]
    fn multi_values_and_positional_hash() {
        let a = Action::parse("set name=variant.arch value=i386 value=sparc").unwrap();
        assert_eq!(a.values("value"), ["i386", "sparc"]);
        let a = Action::parse("file abc path=a/b mode=0644 owner=root group=bin").unwrap();
        assert_eq!(a.hash.as_deref(), Some("abc"));
        assert_eq!(
            a.to_string(),
            "file abc group=bin mode=0644 owner=root path=a/b"
        );
        let a = Action::parse("file hash=abc path=a").unwrap();
        assert_eq!(a.hash.as_deref(), Some("abc"));
        assert!(Action::parse("file abc hash=abd path=a").is_err());
        assert!(Action::parse("dir abc path=a").is_err());
        assert!(Action::parse("set name=x value=").is_err());
        assert!(Action::parse("set name=x value=\"open").is_err());
        assert!(Action::parse("frob a=b").is_err());
    }

    #[test]
    fn serialises_with_sorted_keys_and_minimal_quotes() {
        let a = Action::parse("set value=\"a b\" name=x").unwrap();
        assert_eq!(a.to_string(), "set name=x value=\"a b\"");
        assert_eq!(quote_value("say \"hi\""), "'say \"hi\"'");
        assert_eq!(quote_value("it's \"x\""), "\"it's \\\"x\\\"\"");
        assert_eq!(quote_value(""), "\"\"");
    }

    #[test]
    fn continuation_lines_join_without_a_separator() {
        let text = "# comment\n\nset name=a \\\n    value=b\nfile x path=p\\\n  q\n";
        assert_eq!(
            logical_lines(text),
            ["set name=a value=b", "file x path=pq"]
        );
    }
}
