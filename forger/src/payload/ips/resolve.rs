//! Dependency resolution for a fresh image (`shared/docs/ips.md` §3.3, §3.6, §7.1): from the
//! requested packages, follow `require`, `group`, `require-any` and `conditional`
//! dependencies; apply `incorporate` (prefix match), `optional` (minimum version if present)
//! and `exclude` constraints; pick the newest allowed version of every needed stem.
//!
//! The algorithm recomputes the whole needed set and its constraints from the current choice
//! until the choice stops changing, so a constraint learnt late (an incorporation chosen after
//! its members) re-picks the packages it governs. It is not pkg5's SAT solver: it never
//! backtracks to an older version of an incorporation to make room for a member, and it does
//! not know about installed images, freezes or avoid lists (a fresh image has none).

use std::collections::{BTreeMap, BTreeSet};

use super::Error;
use super::catalog::{CatalogPackage, PublisherCatalog};
use super::error::Blocker;
use super::fmri::Fmri;
use super::varcet::Varcets;
use super::version::Version;

/// Rounds after which the resolver gives up.
const MAX_ROUNDS: usize = 64;

/// How a constraint limits a stem's versions.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    /// `>=` (require, optional, conditional, require-any).
    AtLeast(Version),
    /// Prefix at the given precision (incorporate, requested `name@version`).
    Prefix(Version),
    /// Absent or older (exclude with a version).
    Below(Version),
    /// Absent (exclude without a version).
    Never,
}

#[derive(Debug, Clone)]
struct Constraint {
    rule: Rule,
    source: String,
}

impl Constraint {
    fn allows(&self, v: &Version) -> bool {
        match &self.rule {
            Rule::AtLeast(min) => v.at_least(min),
            Rule::Prefix(p) => v.matches_prefix(p),
            Rule::Below(max) => v < max,
            Rule::Never => false,
        }
    }

    fn describe(&self) -> String {
        let what = match &self.rule {
            Rule::AtLeast(v) => format!(">= {v}"),
            Rule::Prefix(v) => format!("incorporate {v}"),
            Rule::Below(v) => format!("exclude >= {v}"),
            Rule::Never => "exclude".to_owned(),
        };
        format!("{what} (from {})", self.source)
    }
}

/// Why a stem is needed.
#[derive(Debug, Clone)]
struct Need {
    needed_by: String,
    /// `group` dependencies are satisfied by an obsolete version; `require` ones are not.
    obsolete_ok: bool,
    publisher: Option<String>,
}

/// The packages a resolution chose, in stem order. Obsolete versions that only satisfied a
/// `group` dependency or an incorporation are left out (they deliver nothing).
#[derive(Debug, Clone)]
pub struct Resolution {
    /// Chosen package versions, stems in order.
    pub packages: Vec<CatalogPackage>,
}

/// Resolves `requests` (a version in a request is matched at its precision, like
/// `pkg install entire@11-151054`) against `catalogs` in publisher search order.
pub fn resolve(
    catalogs: &[PublisherCatalog],
    varcets: &Varcets,
    requests: &[Fmri],
) -> Result<Resolution, Error> {
    let r = Resolver { catalogs, varcets };
    let mut chosen: BTreeMap<String, &CatalogPackage> = BTreeMap::new();
    for _ in 0..MAX_ROUNDS {
        let (needs, constraints) = r.needs_and_constraints(requests, &chosen);
        let mut next = BTreeMap::new();
        let mut failure = None;
        for (stem, need) in &needs {
            match r.pick(
                stem,
                need,
                constraints.get(stem).map(Vec::as_slice).unwrap_or(&[]),
            ) {
                Ok(p) => {
                    next.insert(stem.clone(), p);
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        let same = next.len() == chosen.len()
            && next
                .iter()
                .zip(&chosen)
                .all(|((a, pa), (b, pb))| a == b && pa.fmri == pb.fmri);
        if same {
            if let Some(e) = failure {
                return Err(e);
            }
            let packages = next
                .into_values()
                .filter(|p| !p.is_obsolete())
                .cloned()
                .collect();
            return Ok(Resolution { packages });
        }
        chosen = next;
    }
    Err(Error::NoConvergence { rounds: MAX_ROUNDS })
}

struct Resolver<'a> {
    catalogs: &'a [PublisherCatalog],
    varcets: &'a Varcets,
}

impl<'a> Resolver<'a> {
    /// The versions of `stem`: from the named publisher, else the first in search order.
    fn candidates(&self, stem: &str, publisher: Option<&str>) -> Option<&'a [CatalogPackage]> {
        self.catalogs
            .iter()
            .filter(|c| publisher.is_none_or(|p| c.publisher == p))
            .find_map(|c| c.packages.get(stem).map(Vec::as_slice))
    }

    fn exists(&self, stem: &str) -> bool {
        self.candidates(stem, None).is_some()
    }

    fn needs_and_constraints(
        &self,
        requests: &[Fmri],
        chosen: &BTreeMap<String, &CatalogPackage>,
    ) -> (BTreeMap<String, Need>, BTreeMap<String, Vec<Constraint>>) {
        let mut needs: BTreeMap<String, Need> = BTreeMap::new();
        let mut cons: BTreeMap<String, Vec<Constraint>> = BTreeMap::new();
        let need = |needs: &mut BTreeMap<String, Need>, f: &Fmri, by: &str, obsolete_ok: bool| {
            let n = needs.entry(f.stem.clone()).or_insert_with(|| Need {
                needed_by: by.to_owned(),
                obsolete_ok,
                publisher: f.publisher.clone(),
            });
            n.obsolete_ok &= obsolete_ok;
        };
        let add = |cons: &mut BTreeMap<String, Vec<Constraint>>, stem: &str, rule, source: &str| {
            cons.entry(stem.to_owned()).or_default().push(Constraint {
                rule,
                source: source.to_owned(),
            });
        };
        for f in requests {
            need(&mut needs, f, "the request", false);
            if let Some(v) = &f.version {
                add(&mut cons, &f.stem, Rule::Prefix(v.clone()), "the request");
            }
        }
        let installed = |f: &Fmri| {
            chosen
                .get(&f.stem)
                .is_some_and(|p| f.version.as_ref().is_none_or(|v| p.version().at_least(v)))
        };
        for pkg in chosen.values() {
            let by = pkg.fmri.to_string();
            for a in pkg.depends.iter().filter(|a| a.kind == "depend") {
                if !self.varcets.includes(a) {
                    continue;
                }
                let fmris: Vec<Fmri> = a
                    .values("fmri")
                    .iter()
                    .filter_map(|s| s.parse().ok())
                    .collect();
                let Some(first) = fmris.first() else { continue };
                let at_least = |cons: &mut BTreeMap<String, Vec<Constraint>>, f: &Fmri| {
                    if let Some(v) = &f.version {
                        add(cons, &f.stem, Rule::AtLeast(v.clone()), &by);
                    }
                };
                match a.attr("type").unwrap_or("") {
                    "require" => {
                        need(&mut needs, first, &by, false);
                        at_least(&mut cons, first);
                    }
                    "group" if self.exists(&first.stem) => {
                        need(&mut needs, first, &by, true);
                    }
                    "group-any" => {
                        if let Some(f) = fmris
                            .iter()
                            .find(|f| chosen.contains_key(&f.stem))
                            .or_else(|| fmris.iter().find(|f| self.exists(&f.stem)))
                        {
                            need(&mut needs, f, &by, true);
                        }
                    }
                    "incorporate" => {
                        if let Some(v) = &first.version {
                            add(&mut cons, &first.stem, Rule::Prefix(v.clone()), &by);
                        }
                    }
                    "optional" => at_least(&mut cons, first),
                    "exclude" => {
                        let rule = match &first.version {
                            Some(v) => Rule::Below(v.clone()),
                            None => Rule::Never,
                        };
                        add(&mut cons, &first.stem, rule, &by);
                    }
                    "conditional" => {
                        let pred = a.attr("predicate").and_then(|p| p.parse::<Fmri>().ok());
                        if pred.as_ref().is_some_and(installed) {
                            need(&mut needs, first, &by, false);
                            at_least(&mut cons, first);
                        }
                    }
                    "require-any" => {
                        let pick = fmris
                            .iter()
                            .find(|f| installed(f))
                            .or_else(|| fmris.iter().find(|f| self.exists(&f.stem)))
                            .unwrap_or(first);
                        need(&mut needs, pick, &by, false);
                        at_least(&mut cons, pick);
                    }
                    // origin/parent only concern existing images and zones.
                    _ => {}
                }
            }
        }
        (needs, cons)
    }

    /// The newest version of `stem` that every constraint allows.
    fn pick(
        &self,
        stem: &str,
        need: &Need,
        constraints: &[Constraint],
    ) -> Result<&'a CatalogPackage, Error> {
        let Some(cands) = self.candidates(stem, need.publisher.as_deref()) else {
            return Err(Error::MissingPackage {
                stem: stem.to_owned(),
                needed_by: need.needed_by.clone(),
            });
        };
        let mut blockers = Vec::new();
        for p in cands.iter().rev() {
            let reason = if let Err((name, mine)) = self.varcets.package_allowed(&p.depends) {
                Some(format!(
                    "package {name} does not include the image's `{mine}`"
                ))
            } else if let Some(c) = constraints.iter().find(|c| !c.allows(p.version())) {
                Some(c.describe())
            } else if p.is_obsolete() && !need.obsolete_ok {
                Some("obsolete (a require dependency needs a non-obsolete version)".to_owned())
            } else {
                None
            };
            match reason {
                None => return Ok(p),
                Some(because) => blockers.push(Blocker {
                    candidate: p.fmri.to_string(),
                    because,
                }),
            }
        }
        let mut seen = BTreeSet::new();
        blockers.retain(|b| seen.insert(b.candidate.clone()));
        Err(Error::Unresolvable {
            stem: stem.to_owned(),
            needed_by: need.needed_by.clone(),
            blockers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::ips::action::Action;

    /// A catalog from `(stem, version, dependency-part lines)`.
    fn cat(publisher: &str, pkgs: &[(&str, &str, &[&str])]) -> PublisherCatalog {
        let mut packages: BTreeMap<String, Vec<CatalogPackage>> = BTreeMap::new();
        for (stem, v, deps) in pkgs {
            packages
                .entry((*stem).to_owned())
                .or_default()
                .push(CatalogPackage {
                    fmri: format!("pkg://{publisher}/{stem}@{v}").parse().unwrap(),
                    signature_sha1: None,
                    depends: deps.iter().map(|l| Action::parse(l).unwrap()).collect(),
                    summary: Vec::new(),
                });
        }
        for list in packages.values_mut() {
            list.sort_by(|a, b| a.version().cmp(b.version()));
        }
        PublisherCatalog {
            publisher: publisher.to_owned(),
            packages,
            files: BTreeMap::new(),
        }
    }

    fn run(cats: &[PublisherCatalog], req: &[&str]) -> Result<Vec<String>, Error> {
        let req: Vec<Fmri> = req.iter().map(|r| r.parse().unwrap()).collect();
        let mut v = Varcets::default();
        v.variants.insert("variant.arch".into(), "i386".into());
        Ok(resolve(cats, &v, &req)?
            .packages
            .iter()
            .map(|p| format!("{}@{}", p.fmri.stem, p.version().release))
            .collect())
    }

    #[test]
    fn newest_wins_and_late_incorporations_repick() {
        let c = cat(
            "p",
            &[
                ("lib", "1.0", &[]),
                ("lib", "2.0", &[]),
                (
                    "app",
                    "1.0",
                    &[
                        "depend fmri=lib type=require",
                        "depend fmri=inc type=require",
                    ],
                ),
                ("inc", "1.0", &["depend fmri=lib@1 type=incorporate"]),
            ],
        );
        assert_eq!(
            run(std::slice::from_ref(&c), &["lib"]).unwrap(),
            ["lib@2.0"]
        );
        assert_eq!(
            run(&[c], &["app"]).unwrap(),
            ["app@1.0", "inc@1.0", "lib@1.0"]
        );
    }

    #[test]
    fn exclude_conditional_require_any_group_any_optional() {
        let c = cat(
            "p",
            &[
                (
                    "a",
                    "1.0",
                    &[
                        "depend fmri=b@2 type=exclude",
                        "depend fmri=c type=conditional predicate=b",
                        "depend fmri=x fmri=y type=require-any",
                        "depend fmri=gone fmri=g type=group-any",
                        "depend fmri=b@1.5 type=optional",
                    ],
                ),
                ("b", "1.0", &[]),
                ("b", "1.6", &[]),
                ("b", "2.0", &[]),
                ("c", "1.0", &[]),
                ("y", "1.0", &[]),
                ("g", "1.0", &[]),
            ],
        );
        // b is not needed: the conditional on it does not fire; x is absent, so y is chosen.
        assert_eq!(
            run(std::slice::from_ref(&c), &["a"]).unwrap(),
            ["a@1.0", "g@1.0", "y@1.0"]
        );
        // With b requested: exclude keeps it below 2.0, optional at least 1.5, c follows.
        assert_eq!(
            run(std::slice::from_ref(&c), &["a", "b"]).unwrap(),
            ["a@1.0", "b@1.6", "c@1.0", "g@1.0", "y@1.0"]
        );
        let err = run(&[c], &["a", "b@2"]).unwrap_err().to_string();
        assert!(err.contains("exclude >= 2"), "{err}");
    }

    #[test]
    fn obsolete_renamed_variants_and_publisher_order() {
        let c = cat(
            "first",
            &[
                ("old", "1.0", &["set name=pkg.obsolete value=true"]),
                (
                    "moved",
                    "1.0",
                    &[
                        "set name=pkg.renamed value=true",
                        "depend fmri=new type=require",
                    ],
                ),
                ("new", "1.0", &[]),
                ("sparc-only", "1.0", &["set name=variant.arch value=sparc"]),
                ("grp", "1.0", &["depend fmri=old type=group"]),
                ("req", "1.0", &["depend fmri=old type=require"]),
            ],
        );
        let second = cat("second", &[("new", "9.0", &[]), ("extra", "1.0", &[])]);
        let both = [c.clone(), second];
        // Search order: `new` comes from the first publisher that has it.
        assert_eq!(
            run(&both, &["moved", "extra"]).unwrap(),
            ["extra@1.0", "moved@1.0", "new@1.0"]
        );
        // Obsolete satisfies group (and is not installed), not require.
        assert_eq!(
            run(std::slice::from_ref(&c), &["grp"]).unwrap(),
            ["grp@1.0"]
        );
        let err = run(std::slice::from_ref(&c), &["req"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("obsolete"), "{err}");
        let err = run(&[c], &["sparc-only"]).unwrap_err().to_string();
        assert!(err.contains("variant.arch"), "{err}");
    }
}
