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
