//! Image variants and facets, and whether an action or a package applies to the image
//! (`shared/docs/ips.md` §3.5; pkg5 `_varcet.c`, `facet.py`, `variant.py`).

use std::collections::BTreeMap;

use super::action::Action;

/// The image's variant values (`variant.arch` → `i386`) and facet settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Varcets {
    /// Full variant names (`variant.arch`) to their value.
    pub variants: BTreeMap<String, String>,
    /// Full facet names or fnmatch patterns (`facet.locale.*`) to true/false.
    pub facets: BTreeMap<String, bool>,
}

impl Varcets {
    /// The value of a variant; unknown variants are `false` (so `variant.debug.*=true`
    /// actions drop out unless the image sets them).
    pub fn variant(&self, name: &str) -> &str {
        self.variants
            .get(name)
            .map(String::as_str)
            .unwrap_or("false")
    }

    /// Whether a facet is true: an exact setting, else the longest matching pattern (ties
    /// lexical), else the default (true, but false for `facet.debug.*` and `facet.optional.*`).
    pub fn facet(&self, name: &str) -> bool {
        if let Some(v) = self.facets.get(name) {
            return *v;
        }
        let mut best: Option<(&str, bool)> = None;
        for (pat, v) in &self.facets {
            if pat.contains(['*', '?']) && fnmatch(pat, name) {
                match best {
                    Some((b, _))
                        if b.len() > pat.len() || (b.len() == pat.len() && b <= pat.as_str()) => {}
                    _ => best = Some((pat, *v)),
                }
            }
        }
        match best {
            Some((_, v)) => v,
            None => !(name.starts_with("facet.debug.") || name.starts_with("facet.optional.")),
        }
    }

    /// Whether `action` applies: every `variant.*` tag equals the image's value (a tag with
    /// several values never matches), all facets tagged `all` are true, and if any are tagged
    /// `true` at least one of those is true.
    pub fn includes(&self, action: &Action) -> bool {
        let mut any_true_tag = false;
        let mut some_true = false;
        for (k, vs) in &action.attrs {
            if k.starts_with("variant.") {
                if vs.len() != 1 || self.variant(k) != vs[0] {
                    return false;
                }
            } else if k.starts_with("facet.") {
                if vs.len() != 1 {
                    return false;
                }
                match vs[0].as_str() {
                    "all" if !self.facet(k) => return false,
                    "true" => {
                        any_true_tag = true;
                        some_true |= self.facet(k);
                    }
                    _ => {}
                }
            }
        }
        !any_true_tag || some_true
    }

    /// Whether a package's own `set name=variant.X value=…` actions allow this image.
    pub fn package_allowed(&self, actions: &[Action]) -> Result<(), (String, String)> {
        for a in actions {
            if let Some(name) = a.set_name()
                && name.starts_with("variant.")
            {
                let mine = self.variant(name);
                if !a.values("value").iter().any(|v| v == mine) {
                    return Err((name.to_owned(), mine.to_owned()));
                }
            }
        }
        Ok(())
    }
}

/// Shell-style `*` and `?` matching (what Python's fnmatch does for these two).
fn fnmatch(pat: &str, s: &str) -> bool {
    let (p, t) = (pat.as_bytes(), s.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img() -> Varcets {
        let mut v = Varcets::default();
        v.variants.insert("variant.arch".into(), "i386".into());
        v.variants
            .insert("variant.opensolaris.zone".into(), "global".into());
        v.facets.insert("facet.locale.*".into(), false);
        v.facets.insert("facet.locale.de*".into(), true);
        v
    }

    #[test]
    fn variants_and_unknown_variants() {
        let i = img();
        assert!(i.includes(&Action::parse("file x path=a variant.arch=i386").unwrap()));
        assert!(!i.includes(&Action::parse("file x path=a variant.arch=sparc").unwrap()));
        assert!(!i.includes(&Action::parse("file x path=a variant.debug.illumos=true").unwrap()));
        assert!(i.includes(&Action::parse("file x path=a variant.debug.illumos=false").unwrap()));
    }

    #[test]
    fn facets_by_pattern_and_defaults() {
        let i = img();
        assert!(!i.facet("facet.locale.fr"));
        assert!(i.facet("facet.locale.de_DE"));
        assert!(i.facet("facet.doc.man"));
        assert!(!i.facet("facet.debug.foo"));
        let a = Action::parse("file x path=a facet.locale.fr=true facet.locale.de=true").unwrap();
        assert!(i.includes(&a));
        let a = Action::parse("file x path=a facet.locale.fr=true").unwrap();
        assert!(!i.includes(&a));
        let a = Action::parse("file x path=a facet.doc=all facet.locale.fr=all").unwrap();
        assert!(!i.includes(&a));
    }
}
