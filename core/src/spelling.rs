//! "Did you mean …?" for names that are nearly right.

/// The candidate closest to `word` by edit distance, when it is close enough to be a
/// likely typo: at most one edit for short names, a third of the length for long ones.
///
/// ```
/// assert_eq!(knob_core::did_you_mean("scael", ["low", "high", "scale"]), Some("scale"));
/// assert_eq!(knob_core::did_you_mean("learning_rate", ["lr", "momentum"]), None);
/// ```
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, counting an exchange of two neighbours as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // d[i][j]: distance between a[..i] and b[..j]; three rows suffice.
    let mut before = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let substitution = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            cur[j] = substitution.min(prev[j] + 1).min(cur[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(before[j - 2] + 1);
            }
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// ", did you mean `x`?" for a near miss among `candidates`, else nothing.
pub(crate) fn hint<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(word, candidates).map_or(String::new(), |c| format!(", did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("scael", "scale"), 1);
        assert_eq!(edit_distance("lr", "lr"), 0);
    }

    #[test]
    fn near_misses_only() {
        assert_eq!(did_you_mean("unit", ["units", "layers"]), Some("units"));
        assert_eq!(
            did_you_mean("dropuot", ["dropout", "decay_rate"]),
            Some("dropout")
        );
        assert_eq!(did_you_mean("xyz", ["lr", "units"]), None);
    }
}
