//! Case-insensitive matching of names for the filters and Find, without allocating per
//! name: at a hundred thousand instances a lower-cased copy of each, every frame, is
//! what made a filter slow.

/// Whether `hay` contains `needle` (already lower case), ignoring case. No allocation
/// for ASCII text, which names and checks nearly always are.
pub fn contains_folded(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if hay.is_ascii() && needle.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle.as_bytes());
        return h.len() >= n.len()
            && h.windows(n.len())
                .any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b));
    }
    hay.to_lowercase().contains(needle)
}

/// How well `name` matches `query` (already lower case): 0 the same, 1 it starts with
/// it, 2 it contains it; `None` not at all.
pub fn rank(name: &str, query: &str) -> Option<u8> {
    if name.is_ascii() && query.is_ascii() {
        if name.eq_ignore_ascii_case(query) {
            Some(0)
        } else if name.len() >= query.len()
            && name.as_bytes()[..query.len()].eq_ignore_ascii_case(query.as_bytes())
        {
            Some(1)
        } else if contains_folded(name, query) {
            Some(2)
        } else {
            None
        }
    } else {
        let n = name.to_lowercase();
        if n == query {
            Some(0)
        } else if n.starts_with(query) {
            Some(1)
        } else if n.contains(query) {
            Some(2)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_ignore_case_ascii_or_not() {
        assert!(contains_folded("Checkout-01", "kout-0"));
        assert!(contains_folded("anything", ""));
        assert!(!contains_folded("web", "web1"));
        assert!(contains_folded("Größe-EU", "größe"));
        assert_eq!(rank("Checkout", "checkout"), Some(0));
        assert_eq!(rank("checkout-01", "check"), Some(1));
        assert_eq!(rank("eu-checkout", "check"), Some(2));
        assert_eq!(rank("payments", "check"), None);
        assert_eq!(rank("Ärger-1", "ärger"), Some(1));
    }
}
