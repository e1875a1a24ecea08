//! String patterns of Sigma values: `*` / `?` wildcards (with `\` escapes),
//! case-insensitive unless `|cased`, and `|re` regular expressions.

use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    Lit(char),
    Star,
    One,
}

/// A compiled string test.
#[derive(Debug, Clone)]
pub(crate) enum StrPattern {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    Glob(Vec<Tok>),
    Regex(regex::Regex),
}

/// A string pattern plus its case rule. Non-cased patterns are stored
/// lowercased and compared against the lowercased value.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pat: StrPattern,
    cased: bool,
}

/// How a plain value is anchored by modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    Whole,
    Contains,
    StartsWith,
    EndsWith,
}

fn tokenize(value: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => toks.push(Tok::Star),
            '?' => toks.push(Tok::One),
            '\\' => match chars.peek() {
                Some(&n @ ('*' | '?' | '\\')) => {
                    chars.next();
                    toks.push(Tok::Lit(n));
                }
                _ => toks.push(Tok::Lit('\\')),
            },
            c => toks.push(Tok::Lit(c)),
        }
    }
    toks
}

impl Pattern {
    /// A Sigma string value with its anchoring modifier.
    pub fn sigma(value: &str, anchor: Anchor, cased: bool) -> Pattern {
        let value: Cow<'_, str> = if cased {
            Cow::Borrowed(value)
        } else {
            Cow::Owned(value.to_lowercase())
        };
        let mut toks = tokenize(&value);
        if matches!(anchor, Anchor::Contains | Anchor::EndsWith) {
            toks.insert(0, Tok::Star);
        }
        if matches!(anchor, Anchor::Contains | Anchor::StartsWith) {
            toks.push(Tok::Star);
        }
        // Collapse runs of stars.
        toks.dedup_by(|a, b| *a == Tok::Star && *b == Tok::Star);
        let lead = toks.first() == Some(&Tok::Star);
        let trail = toks.len() > 1 && toks.last() == Some(&Tok::Star);
        let inner = &toks[usize::from(lead)..toks.len() - usize::from(trail)];
        let pat = if inner.iter().all(|t| matches!(t, Tok::Lit(_))) {
            let lit: String = inner
                .iter()
                .map(|t| match t {
                    Tok::Lit(c) => *c,
                    _ => ' ',
                })
                .collect();
            match (lead, trail) {
                (false, false) => StrPattern::Exact(lit),
                (false, true) => StrPattern::Prefix(lit),
                (true, false) => StrPattern::Suffix(lit),
                (true, true) => StrPattern::Contains(lit),
            }
        } else {
            StrPattern::Glob(toks)
        };
        Pattern { pat, cased }
    }

    /// A regular expression (`|re`), case-sensitive unless built with `(?i)`.
    pub fn regex(re: regex::Regex) -> Pattern {
        Pattern {
            pat: StrPattern::Regex(re),
            cased: true,
        }
    }

    pub fn matches(&self, value: &str) -> bool {
        if let StrPattern::Regex(re) = &self.pat {
            return re.is_match(value);
        }
        if self.cased || !value.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) {
            return self.test(value);
        }
        if value.is_ascii() {
            // Lowercase ASCII into a stack buffer when short, else allocate.
            let mut buf = [0u8; 256];
            if value.len() <= buf.len() {
                let dst = &mut buf[..value.len()];
                dst.copy_from_slice(value.as_bytes());
                dst.make_ascii_lowercase();
                return std::str::from_utf8(dst).is_ok_and(|s| self.test(s));
            }
        }
        self.test(&value.to_lowercase())
    }

    fn test(&self, v: &str) -> bool {
        match &self.pat {
            StrPattern::Exact(p) => v == p,
            StrPattern::Prefix(p) => v.starts_with(p.as_str()),
            StrPattern::Suffix(p) => v.ends_with(p.as_str()),
            StrPattern::Contains(p) => v.contains(p.as_str()),
            StrPattern::Glob(toks) => glob(toks, v),
            StrPattern::Regex(re) => re.is_match(v),
        }
    }
}

/// Wildcard match with backtracking to the last star (linear in practice,
/// O(n·m) worst case).
fn glob(toks: &[Tok], v: &str) -> bool {
    let chars: Vec<char> = v.chars().collect();
    let (mut t, mut c) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while c < chars.len() {
        match toks.get(t) {
            Some(Tok::Lit(l)) if *l == chars[c] => {
                t += 1;
                c += 1;
            }
            Some(Tok::One) => {
                t += 1;
                c += 1;
            }
            Some(Tok::Star) => {
                star = Some((t, c));
                t += 1;
            }
            _ => match star {
                Some((st, sc)) => {
                    t = st + 1;
                    c = sc + 1;
                    star = Some((st, sc + 1));
                }
                None => return false,
            },
        }
    }
    toks[t..].iter().all(|x| *x == Tok::Star)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(value: &str, anchor: Anchor, cased: bool, input: &str) -> bool {
        Pattern::sigma(value, anchor, cased).matches(input)
    }

    #[test]
    fn plain_values_are_whole_and_case_insensitive() {
        assert!(m("root", Anchor::Whole, false, "ROOT"));
        assert!(!m("root", Anchor::Whole, false, "rooted"));
        assert!(!m("root", Anchor::Whole, true, "ROOT"));
        assert!(m("Ärger", Anchor::Whole, false, "äRGER"));
    }

    #[test]
    fn anchors_and_wildcards() {
        assert!(m("/tmp/", Anchor::StartsWith, false, "/TMP/x"));
        assert!(m(".sh", Anchor::EndsWith, false, "a.SH"));
        assert!(m(
            "stratum+tcp",
            Anchor::Contains,
            false,
            "x stratum+tcp://y"
        ));
        assert!(m("a*c", Anchor::Whole, false, "abbbc"));
        assert!(!m("a*c", Anchor::Whole, false, "abbbd"));
        assert!(m("a?c", Anchor::Whole, false, "abc"));
        assert!(!m("a?c", Anchor::Whole, false, "abbc"));
        assert!(m("*", Anchor::Whole, false, ""));
        assert!(m("*x", Anchor::Whole, false, "aax"));
        assert!(m("*a*b*", Anchor::Whole, false, "xxaxxbxx"));
        assert!(m("", Anchor::Whole, false, ""));
        assert!(!m("", Anchor::Whole, false, "x"));
    }

    #[test]
    fn escaped_wildcards_are_literal() {
        assert!(m(r"a\*b", Anchor::Whole, false, "a*b"));
        assert!(!m(r"a\*b", Anchor::Whole, false, "axb"));
        assert!(m(r"a\?", Anchor::Whole, false, "a?"));
        assert!(m(r"c:\\win", Anchor::Whole, false, r"C:\WIN"));
        assert!(m(r"c:\win", Anchor::Whole, false, r"C:\WIN"));
    }

    #[test]
    fn long_values_still_match_case_insensitively() {
        let long = "A".repeat(1000);
        assert!(m(&"a".repeat(1000), Anchor::Whole, false, &long));
    }
}
