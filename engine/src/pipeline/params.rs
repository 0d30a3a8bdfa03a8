//! `${NAME}` substitution: how `param` values reach string values.
//!
//! A document declares `param "NAME" default="VALUE"`; every string value in
//! that document may then contain `${NAME}`. `$${` writes a literal `${`. A
//! `$` not followed by `{` is kept as written, so argv such as `$HOME` passes
//! through untouched.

/// A problem with one reference inside a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RefError {
    /// `${name}` with no such param.
    Undefined(String),
    /// `${` with no closing `}`.
    Unterminated,
    /// `${}`.
    Empty,
}

/// Replaces every `${NAME}` in `text` with `lookup(NAME)`. All bad references
/// are returned, not only the first.
pub(crate) fn substitute<'v>(
    text: &str,
    lookup: impl Fn(&str) -> Option<&'v str>,
) -> Result<String, Vec<RefError>> {
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            match after.find('}') {
                None => {
                    errors.push(RefError::Unterminated);
                    rest = "";
                }
                Some(end) => {
                    let name = &after[..end];
                    if name.is_empty() {
                        errors.push(RefError::Empty);
                    } else if let Some(value) = lookup(name) {
                        out.push_str(value);
                    } else {
                        errors.push(RefError::Undefined(name.to_string()));
                    }
                    rest = &after[end + 1..];
                }
            }
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<&'static str> {
        match name {
            "generated" => Some(".generated"),
            "x" => Some("1"),
            _ => None,
        }
    }

    #[test]
    fn substitutes_every_reference() {
        assert_eq!(
            substitute("${generated}/cidl.json", vars).unwrap(),
            ".generated/cidl.json"
        );
        assert_eq!(substitute("${x}${x}-${x}", vars).unwrap(), "11-1");
        assert_eq!(substitute("no refs", vars).unwrap(), "no refs");
    }

    #[test]
    fn keeps_lone_dollars_and_escapes() {
        assert_eq!(substitute("$HOME/$", vars).unwrap(), "$HOME/$");
        assert_eq!(substitute("$${x} is ${x}", vars).unwrap(), "${x} is 1");
        assert_eq!(substitute("日本$語${x}", vars).unwrap(), "日本$語1");
    }

    #[test]
    fn reports_all_bad_references() {
        assert_eq!(
            substitute("${nope}/${x}/${}/${open", vars).unwrap_err(),
            vec![
                RefError::Undefined("nope".into()),
                RefError::Empty,
                RefError::Unterminated
            ]
        );
    }
}
