//! Relative paths between workspace files, for imports in generated code.

/// The path from folder `from_dir` (workspace-relative, `None` = root) to
/// `to` (a workspace-relative file), always starting with `./` or `../`.
pub fn relative(from_dir: Option<&str>, to: &str) -> String {
    let from: Vec<&str> = from_dir
        .map(|d| d.split('/').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let to_parts: Vec<&str> = to
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let common = from
        .iter()
        .zip(to_parts.iter())
        .take_while(|(a, b)| a == b)
        .count()
        .min(to_parts.len().saturating_sub(1));
    let ups = from.len() - common;
    let mut parts: Vec<&str> = Vec::new();
    if ups == 0 {
        parts.push(".");
    }
    parts.extend(std::iter::repeat_n("..", ups));
    parts.extend(&to_parts[common..]);
    parts.join("/")
}

/// The path from folder `from_dir` to folder `to_dir` (`.` when equal, no
/// trailing `/`).
pub fn relative_dir(from_dir: Option<&str>, to_dir: Option<&str>) -> String {
    let target = match to_dir {
        Some(d) => format!("{d}/x"),
        None => "x".to_string(),
    };
    let rel = relative(from_dir, &target);
    rel.strip_suffix("/x").unwrap_or(".").to_string()
}

/// The folder of a workspace path (`None` at the root).
pub fn parent(path: &str) -> Option<&str> {
    path.rfind('/').map(|i| &path[..i])
}

#[cfg(test)]
mod tests {
    use super::relative;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative(Some(".generated"), "src/horse.cloesce.ts"),
            "../src/horse.cloesce.ts"
        );
        assert_eq!(
            relative(Some(".generated"), ".generated/cidl.json"),
            "./cidl.json"
        );
        assert_eq!(relative(None, "a.ts"), "./a.ts");
        assert_eq!(relative(Some("a/b"), "a/c/d.ts"), "../c/d.ts");
        assert_eq!(relative(Some("a/b"), "x.ts"), "../../x.ts");
        assert_eq!(relative(Some("src"), "src/m/x.ts"), "./m/x.ts");
        assert_eq!(super::relative_dir(Some(".generated"), None), "..");
        assert_eq!(super::relative_dir(None, None), ".");
        assert_eq!(super::relative_dir(Some("a"), Some("a")), ".");
        assert_eq!(super::relative_dir(Some("a/b"), Some("c")), "../../c");
    }
}
