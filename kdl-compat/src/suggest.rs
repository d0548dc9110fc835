//! "Did you mean" hints: the closest known name by edit distance, or the list of valid names
//! when nothing is close.

/// Levenshtein distance between two names (by chars).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The help line for an unknown `name` among `known`: `did you mean `x`?` when one is
/// close (at most a third of the name's length away, and at least one edit allowed), else the
/// list of valid names.
pub(crate) fn did_you_mean(name: &str, known: &[&str]) -> String {
    let limit = (name.chars().count() / 3).max(1);
    let best = known
        .iter()
        .map(|k| (distance(&name.to_ascii_lowercase(), k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d);
    match best {
        Some((_, k)) => format!("did you mean `{k}`?"),
        None if known.is_empty() => "nothing is accepted here".to_owned(),
        None => format!("expected one of: {}", known.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("overlay", "overlays"), 1);
    }

    #[test]
    fn hints() {
        assert_eq!(
            did_you_mean("pakages", &["packages", "overlays"]),
            "did you mean `packages`?"
        );
        assert_eq!(
            did_you_mean("zzz", &["packages", "overlays"]),
            "expected one of: packages, overlays"
        );
    }
}
