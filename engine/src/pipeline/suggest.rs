//! "Did you mean `X`?" suggestions for misspelt names.

/// The candidate closest to `input`, when it is close enough to be a likely
/// typo (case-insensitive equality, or a small edit distance). Ties go to the
/// earlier candidate. Exposed as `pipeline::did_you_mean` for the CLI's
/// "unknown rule" message.
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (input.chars().count() / 3).max(2);
    let lower = input.to_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let distance = if candidate.to_lowercase() == lower {
            0
        } else {
            strsim::damerau_levenshtein(input, candidate)
        };
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// A help line: "did you mean `X`?" or, failing that, the list of valid names.
pub(crate) fn help(input: &str, candidates: &[&str]) -> String {
    match closest(input, candidates.iter().copied()) {
        Some(c) => format!("did you mean `{c}`?"),
        None if candidates.is_empty() => "there is nothing to choose from here".to_string(),
        None => format!("expected one of {}", list(candidates)),
    }
}

/// `a`, `b`, `c` rendered as "`a`, `b` or `c`".
pub(crate) fn list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_typos_only() {
        let names = ["inputs", "outputs", "deps", "builtin"];
        assert_eq!(closest("input", names), Some("inputs"));
        assert_eq!(closest("buitlin", names), Some("builtin"));
        assert_eq!(closest("Deps", names), Some("deps"));
        assert_eq!(closest("zzzzzzzzz", names), None);
    }

    #[test]
    fn help_lists_choices_without_a_match() {
        assert_eq!(help("x", &["a", "bcd"]), "did you mean `a`?");
        assert_eq!(
            help("qqqqqq", &["aaa", "bbb", "ccc"]),
            "expected one of `aaa`, `bbb` or `ccc`"
        );
        assert_eq!(list(&["a"]), "`a`");
    }
}
