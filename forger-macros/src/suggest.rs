//! "Did you mean …?" for misspelt node and property names: Levenshtein distance with `-`
//! and `_` treated alike, so `disk_size` finds `disk-size`.

/// The closest candidate to `given`, if it is close enough to be a likely typo.
pub fn closest<'a>(given: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let norm = given.replace('_', "-").to_ascii_lowercase();
    let limit = (norm.chars().count() / 3).max(1);
    if let Some(c) = candidates
        .iter()
        .find(|c| norm.len() > 2 && (norm.starts_with(**c) || c.starts_with(norm.as_str())))
    {
        return Some(c);
    }
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

/// Edit distance with adjacent transpositions counted as one edit (`ueif` → `uefi` is 1).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
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
        assert_eq!(closest("ueif", &["uefi", "bios"]), Some("uefi"));
        assert_eq!(
            closest("ensure-directory", &["file", "ensure-dir"]),
            Some("ensure-dir")
        );
    }
}
