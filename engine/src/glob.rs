//! Matching input globs without a regex engine when the glob is simple.
//!
//! Pipeline globs are matched with `globset` semantics (`*` and `?` stay
//! within one folder, `**` crosses folders, case-sensitive, `\` is a literal).
//! `globset` compiles every glob to a regex, and under Node each first call
//! into the regex compiler is compiled to machine code by V8 on the spot,
//! which made globs a third of the WebAssembly compiled on a no-op run.
//!
//! Almost every glob a pipeline names (`src/**/*.cloesce.ts`,
//! `.generated/*.ts`) uses only literals, `*`, `?` and `**`. [`GlobMatcher`]
//! matches those directly, reproducing the tokens `globset` produces for them
//! and what their regex accepts; a glob with a class (`[...]`) or
//! alternatives (`{a,b}`) goes to `globset` as before. The test
//! `simple_globs_match_like_globset` compares both on thousands of generated
//! globs and paths.

/// One token of a simple glob, as `globset` names them.
///
/// `globset`'s regex has Unicode off (`(?-u)`): `?` and `*` count bytes, so
/// the matcher works on bytes too (a literal `é` is its two UTF-8 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Literal(u8),
    /// `?`: one byte other than `/`.
    Any,
    /// `*`: any run of bytes other than `/`.
    ZeroOrMore,
    /// `**/` at the start: `(?:/?|.*/)`.
    RecursivePrefix,
    /// `/**` at the end: `/.*`.
    RecursiveSuffix,
    /// `/**/` inside: `(?:/|/.*/)`.
    RecursiveZeroOrMore,
}

/// A compiled input glob.
#[derive(Debug, Clone)]
pub struct GlobMatcher(Kind);

#[derive(Debug, Clone)]
enum Kind {
    /// Literals, `*`, `?` and `**`, matched directly.
    Simple(Vec<Token>),
    /// Anything else, matched by `globset`'s regex.
    Full(globset::GlobMatcher),
}

impl GlobMatcher {
    /// Compiles `glob` with the engine's options; the error is `globset`'s.
    pub fn new(glob: &str) -> Result<GlobMatcher, globset::Error> {
        match simple_tokens(glob) {
            Some(tokens) => Ok(GlobMatcher(Kind::Simple(tokens))),
            None => Ok(GlobMatcher(Kind::Full(
                globset::GlobBuilder::new(glob)
                    .literal_separator(true)
                    .backslash_escape(false)
                    .build()?
                    .compile_matcher(),
            ))),
        }
    }

    /// True when the glob is matched without a regex.
    #[cfg(test)]
    fn is_simple(&self) -> bool {
        matches!(self.0, Kind::Simple(_))
    }

    /// True when the whole of `path` matches.
    pub fn is_match(&self, path: &str) -> bool {
        match &self.0 {
            // A lone `**` matches everything (a special case in globset).
            Kind::Simple(tokens) if tokens == &[Token::RecursivePrefix] => true,
            Kind::Simple(tokens) => matches(tokens, path.as_bytes()),
            Kind::Full(matcher) => matcher.is_match(path),
        }
    }
}

/// The tokens `globset` produces for `glob` (options as above), or `None`
/// when the glob has a class or alternatives. Mirrors `globset`'s
/// `Parser::parse_star` for a glob without branches.
fn simple_tokens(glob: &str) -> Option<Vec<Token>> {
    if glob.contains(['[', ']', '{', '}']) {
        return None;
    }
    let mut tokens: Vec<Token> = Vec::new();
    let mut chars = glob.chars().peekable();
    let mut prev: Option<char> = None;
    while let Some(c) = chars.next() {
        match c {
            '?' => tokens.push(Token::Any),
            '*' if chars.peek() != Some(&'*') => tokens.push(Token::ZeroOrMore),
            '*' => {
                chars.next();
                if tokens.is_empty() {
                    // `**` at the start: a prefix only when a `/` (or the end) follows.
                    if chars.peek().is_some_and(|&n| n != '/') {
                        tokens.extend([Token::ZeroOrMore, Token::ZeroOrMore]);
                        prev = Some('*');
                    } else {
                        tokens.push(Token::RecursivePrefix);
                        prev = chars.next().or(Some('*'));
                    }
                    continue;
                }
                if prev != Some('/') {
                    tokens.extend([Token::ZeroOrMore, Token::ZeroOrMore]);
                    prev = Some('*');
                    continue;
                }
                let is_suffix = match chars.peek() {
                    None => true,
                    Some('/') => {
                        prev = chars.next();
                        false
                    }
                    Some(_) => {
                        tokens.extend([Token::ZeroOrMore, Token::ZeroOrMore]);
                        prev = Some('*');
                        continue;
                    }
                };
                // The `/` before `**` becomes part of the recursive token.
                let last = tokens.pop().expect("a token precedes");
                tokens.push(match last {
                    Token::RecursivePrefix | Token::RecursiveSuffix => last,
                    _ if is_suffix => Token::RecursiveSuffix,
                    _ => Token::RecursiveZeroOrMore,
                });
                continue;
            }
            other => {
                let mut utf8 = [0; 4];
                tokens.extend(other.encode_utf8(&mut utf8).bytes().map(Token::Literal));
            }
        }
        prev = Some(c);
    }
    Some(tokens)
}

/// Matches `tokens` against the whole of `path` (backtracking; globs are
/// short and have few stars).
fn matches(tokens: &[Token], path: &[u8]) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return path.is_empty();
    };
    match *first {
        Token::Literal(c) => path.first() == Some(&c) && matches(rest, &path[1..]),
        Token::Any => path.first().is_some_and(|&c| c != b'/') && matches(rest, &path[1..]),
        Token::ZeroOrMore => {
            let run = path.iter().take_while(|&&c| c != b'/').count();
            (0..=run).any(|n| matches(rest, &path[n..]))
        }
        // `(?:/?|.*/)`: nothing, one `/`, or anything up to and including a `/`.
        Token::RecursivePrefix => {
            matches(rest, path)
                || (path.first() == Some(&b'/') && matches(rest, &path[1..]))
                || after_slashes(path).any(|n| matches(rest, &path[n..]))
        }
        // `/.*`
        Token::RecursiveSuffix => {
            path.first() == Some(&b'/') && (1..=path.len()).any(|n| matches(rest, &path[n..]))
        }
        // `(?:/|/.*/)`
        Token::RecursiveZeroOrMore => {
            path.first() == Some(&b'/')
                && (matches(rest, &path[1..])
                    || after_slashes(&path[1..]).any(|n| matches(rest, &path[1 + n..])))
        }
    }
}

/// The offsets just after each `/` of `path`.
fn after_slashes(path: &[u8]) -> impl Iterator<Item = usize> + '_ {
    path.iter()
        .enumerate()
        .filter(|(_, &c)| c == b'/')
        .map(|(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The glob compiled by `globset` alone, as the engine did before.
    fn globset(glob: &str) -> Option<globset::GlobMatcher> {
        globset::GlobBuilder::new(glob)
            .literal_separator(true)
            .backslash_escape(false)
            .build()
            .ok()
            .map(|g| g.compile_matcher())
    }

    #[test]
    fn common_globs_are_simple_and_match() {
        let m = GlobMatcher::new("src/**/*.cloesce.ts").unwrap();
        assert!(m.is_simple());
        assert!(m.is_match("src/a.cloesce.ts"));
        assert!(m.is_match("src/x/y/a.cloesce.ts"));
        assert!(!m.is_match("src/a.ts"));
        assert!(!m.is_match("lib/a.cloesce.ts"));
        let m = GlobMatcher::new(".generated/*.ts").unwrap();
        assert!(m.is_match(".generated/client.ts"));
        assert!(!m.is_match(".generated/x/client.ts"));
        let m = GlobMatcher::new("gen/**").unwrap();
        assert!(m.is_match("gen/a/b"));
        assert!(!m.is_match("gen"));
        assert!(GlobMatcher::new("**").unwrap().is_match("a/b"));
        // `?` is one byte, as in globset: `é` is two.
        assert!(!GlobMatcher::new("?").unwrap().is_match("é"));
        assert!(GlobMatcher::new("??").unwrap().is_match("é"));
    }

    #[test]
    fn classes_and_alternatives_go_to_globset() {
        let m = GlobMatcher::new("src/*.{ts,js}").unwrap();
        assert!(!m.is_simple());
        assert!(m.is_match("src/a.js"));
        assert!(!m.is_match("src/a.rs"));
        let m = GlobMatcher::new("src/[ab].ts").unwrap();
        assert!(m.is_match("src/b.ts"));
        assert!(!m.is_match("src/c.ts"));
        assert!(GlobMatcher::new("src/[a.ts").is_err());
    }

    /// A small deterministic generator (xorshift), so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            items[(self.0 % items.len() as u64) as usize]
        }
    }

    #[test]
    fn simple_globs_match_like_globset() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let glob_parts = [
            "a", "b", ".", "*", "?", "/", "**", "**/", "/**", "\\", "é", ",", "!",
        ];
        let path_parts = ["a", "b", ".", "/", "ab", "é", "\\", "a/b"];
        let mut compared = 0;
        for _ in 0..4000 {
            let glob: String = (0..1 + rng.0 % 6).map(|_| rng.pick(&glob_parts)).collect();
            // No class or alternatives: globset accepts every one of them.
            let reference = globset(&glob).unwrap_or_else(|| panic!("globset refused {glob:?}"));
            let ours = GlobMatcher::new(&glob).unwrap();
            assert!(ours.is_simple(), "{glob}");
            for _ in 0..25 {
                let path: String = (0..rng.0 % 7).map(|_| rng.pick(&path_parts)).collect();
                assert_eq!(
                    ours.is_match(&path),
                    reference.is_match(&path),
                    "glob {glob:?} path {path:?}"
                );
                compared += 1;
            }
        }
        assert!(compared > 50_000, "{compared}");
    }
}
