//! "Did you mean …?" for misspelt node and property names: Levenshtein distance with `-`
//! and `_` treated alike, so `disk_size` finds `disk-size`.

/// The closest candidate to `given`, if it is close enough to be a likely typo.
pub fn closest<'a>(given: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let norm = given.replace('_', "-").to_ascii_lowercase();
    let limit = (norm.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (distance(&norm, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// A sentence fragment listing the candidates, for when nothing is close.
pub fn one_of(candidates: &[&str]) -> String {
    candidates
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_and_underscores() {
        assert_eq!(
            closest("disk_size", &["disk-size", "bootloader"]),
            Some("disk-size")
        );
        assert_eq!(
            closest("pakages", &["packages", "overlays"]),
            Some("packages")
        );
        assert_eq!(closest("zzz", &["packages", "overlays"]), None);
    }
}
