//! Sigma `condition` expressions: `and`, `or`, `not`, parentheses,
//! `1 of sel*`, `any of them`, `all of sel_*`, `N of ...`.

use crate::error::{ErrorCode, RuleError};

/// A compiled condition over selection indices.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Sel(usize),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    /// At least `n` of these selections.
    AtLeast(usize, Vec<usize>),
}

impl Expr {
    pub fn eval(&self, sel: &mut dyn FnMut(usize) -> bool) -> bool {
        match self {
            Expr::Sel(i) => sel(*i),
            Expr::Not(e) => !e.eval(sel),
            Expr::And(es) => es.iter().all(|e| e.eval(sel)),
            Expr::Or(es) => es.iter().any(|e| e.eval(sel)),
            Expr::AtLeast(n, ids) => {
                let mut hit = 0;
                for i in ids {
                    if sel(*i) {
                        hit += 1;
                        if hit >= *n {
                            return true;
                        }
                    }
                }
                false
            }
        }
    }
}

/// Longest condition text and deepest nesting accepted.
const MAX_LEN: usize = 4096;
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Word(&'a str),
    Open,
    Close,
    Pipe,
}

fn lex(s: &str) -> Result<Vec<Tok<'_>>, String> {
    let mut toks = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                toks.push(Tok::Open);
                i += 1;
            }
            b')' => {
                toks.push(Tok::Close);
                i += 1;
            }
            b'|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'*' || c == b'-' || c == b'.' => {
                let start = i;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'*' | b'-' | b'.'))
                {
                    i += 1;
                }
                toks.push(Tok::Word(&s[start..i]));
            }
            _ => {
                let c = s[i..].chars().next().unwrap_or('?');
                return Err(format!("unexpected character `{c}` at offset {i}"));
            }
        }
    }
    Ok(toks)
}

struct P<'a, 'n> {
    toks: Vec<Tok<'a>>,
    at: usize,
    names: &'n [String],
    depth: usize,
}

fn is_kw(w: &str, kw: &str) -> bool {
    w.eq_ignore_ascii_case(kw)
}

fn name_glob(pat: &str, name: &str) -> bool {
    match pat.split_once('*') {
        None => pat == name,
        Some((pre, post)) if !post.contains('*') => {
            name.len() >= pre.len() + post.len() && name.starts_with(pre) && name.ends_with(post)
        }
        Some(_) => {
            // Several stars: fall back to a simple greedy scan.
            let mut rest = name;
            let parts: Vec<&str> = pat.split('*').collect();
            for (i, part) in parts.iter().enumerate() {
                if i == 0 {
                    match rest.strip_prefix(part) {
                        Some(r) => rest = r,
                        None => return false,
                    }
                } else if i == parts.len() - 1 {
                    return rest.ends_with(part);
                } else {
                    match rest.find(part) {
                        Some(at) => rest = &rest[at + part.len()..],
                        None => return false,
                    }
                }
            }
            true
        }
    }
}

impl<'a> P<'a, '_> {
    fn peek(&self) -> Option<&Tok<'a>> {
        self.toks.get(self.at)
    }

    fn peek_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if is_kw(w, kw))
    }

    fn or(&mut self) -> Result<Expr, RuleError> {
        let mut items = vec![self.and()?];
        while self.peek_kw("or") {
            self.at += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, RuleError> {
        let mut items = vec![self.not()?];
        while self.peek_kw("and") {
            self.at += 1;
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn not(&mut self) -> Result<Expr, RuleError> {
        if self.peek_kw("not") {
            self.at += 1;
            self.enter()?;
            let e = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.primary()
    }

    fn enter(&mut self) -> Result<(), RuleError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(RuleError::new(
                ErrorCode::Limit,
                format!("condition nested deeper than {MAX_DEPTH}"),
            ));
        }
        Ok(())
    }

    fn primary(&mut self) -> Result<Expr, RuleError> {
        let tok = self.peek().cloned();
        self.at += 1;
        match tok {
            Some(Tok::Open) => {
                self.enter()?;
                let e = self.or()?;
                self.depth -= 1;
                if self.peek() != Some(&Tok::Close) {
                    return Err(syntax("missing `)`"));
                }
                self.at += 1;
                Ok(e)
            }
            Some(Tok::Word(w)) => {
                if ["and", "or", "not", "of", "them"]
                    .iter()
                    .any(|k| is_kw(w, k))
                {
                    return Err(syntax(format!("unexpected `{w}`")));
                }
                if self.peek_kw("of") {
                    self.at += 1;
                    return self.quantifier(w);
                }
                if is_kw(w, "all") || is_kw(w, "any") {
                    return Err(syntax(format!("`{w}` must be followed by `of`")));
                }
                match self.names.iter().position(|n| n == w) {
                    Some(i) => Ok(Expr::Sel(i)),
                    None => Err(RuleError::new(
                        ErrorCode::UnknownIdentifier,
                        format!("`{w}` is not a selection of this rule"),
                    )),
                }
            }
            Some(Tok::Pipe) => Err(RuleError::new(
                ErrorCode::UnsupportedFeature,
                "aggregation pipes (`| count() ...`) are not supported; use a correlation rule",
            )),
            Some(Tok::Close) => Err(syntax("unexpected `)`")),
            None => Err(syntax("unexpected end of condition")),
        }
    }

    fn quantifier(&mut self, q: &str) -> Result<Expr, RuleError> {
        let target = match self.peek() {
            Some(Tok::Word(w)) => *w,
            _ => {
                return Err(syntax(format!(
                    "`{q} of` needs a selection pattern or `them`"
                )))
            }
        };
        self.at += 1;
        let ids: Vec<usize> = if is_kw(target, "them") {
            (0..self.names.len())
                .filter(|&i| !self.names[i].starts_with('_'))
                .collect()
        } else {
            (0..self.names.len())
                .filter(|&i| name_glob(target, &self.names[i]))
                .collect()
        };
        if ids.is_empty() {
            return Err(RuleError::new(
                ErrorCode::UnknownIdentifier,
                format!("`{target}` matches no selection"),
            ));
        }
        let n = if is_kw(q, "all") {
            ids.len()
        } else if is_kw(q, "any") {
            1
        } else {
            match q.parse::<usize>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(syntax(format!(
                        "`{q} of`: expected a count, `any` or `all`"
                    )))
                }
            }
        };
        Ok(Expr::AtLeast(n, ids))
    }
}

fn syntax(msg: impl Into<String>) -> RuleError {
    RuleError::new(ErrorCode::BadCondition, msg)
}

/// Parses `text` over the selection `names`.
pub(crate) fn parse(text: &str, names: &[String]) -> Result<Expr, RuleError> {
    if text.len() > MAX_LEN {
        return Err(RuleError::new(
            ErrorCode::Limit,
            format!("condition longer than {MAX_LEN} bytes"),
        ));
    }
    if text.contains('|') {
        return Err(RuleError::new(
            ErrorCode::UnsupportedFeature,
            "aggregation pipes (`| count() ...`) are not supported; use a correlation rule",
        ));
    }
    let toks = lex(text).map_err(syntax)?;
    if toks.is_empty() {
        return Err(syntax("empty condition"));
    }
    let mut p = P {
        toks,
        at: 0,
        names,
        depth: 0,
    };
    let e = p.or()?;
    match p.peek() {
        None => Ok(e),
        Some(Tok::Pipe) => Err(RuleError::new(
            ErrorCode::UnsupportedFeature,
            "aggregation pipes (`| count() ...`) are not supported; use a correlation rule",
        )),
        Some(t) => Err(syntax(format!("unexpected {t:?} after the expression"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["selection", "filter_a", "filter_b", "_hidden", "kw"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn eval(cond: &str, truth: [bool; 5]) -> bool {
        parse(cond, &names()).unwrap().eval(&mut |i| truth[i])
    }

    #[test]
    fn precedence_not_and_or() {
        // not binds tighter than and, and tighter than or.
        let t = [true, false, true, false, false];
        assert!(eval("selection and not filter_a", t));
        assert!(!eval("selection and not filter_b", t));
        assert!(eval("filter_a or selection and filter_b", t));
        assert!(!eval("(filter_a or selection) and not filter_b", t));
        assert!(eval("not (filter_a and filter_b)", t));
    }

    #[test]
    fn quantifiers() {
        let t = [false, true, false, true, false];
        assert!(eval("1 of filter_*", t));
        assert!(!eval("all of filter_*", t));
        assert!(eval("any of them", t));
        // `them` ignores names starting with an underscore.
        assert!(!eval("2 of them", [false, true, false, true, false]));
        assert!(eval("2 of them", [true, true, false, false, false]));
        assert!(eval("all of filter_a", t));
    }

    #[test]
    fn errors_have_codes() {
        let n = names();
        let code = |c: &str| parse(c, &n).unwrap_err().code;
        assert_eq!(code("selection and"), ErrorCode::BadCondition);
        assert_eq!(code("(selection"), ErrorCode::BadCondition);
        assert_eq!(code("selection filter_a"), ErrorCode::BadCondition);
        assert_eq!(code(""), ErrorCode::BadCondition);
        assert_eq!(code("selection & x"), ErrorCode::BadCondition);
        assert_eq!(code("all selection"), ErrorCode::BadCondition);
        assert_eq!(code("0 of them"), ErrorCode::BadCondition);
        assert_eq!(code("nope"), ErrorCode::UnknownIdentifier);
        assert_eq!(code("1 of nope*"), ErrorCode::UnknownIdentifier);
        assert_eq!(
            code("selection | count() > 5"),
            ErrorCode::UnsupportedFeature
        );
        let deep = format!("{}selection{}", "(".repeat(100), ")".repeat(100));
        assert_eq!(code(&deep), ErrorCode::Limit);
    }
}
