//! Sigma `detection` selections: compiling field tests with modifiers and
//! matching them against events.

use crate::error::{ErrorCode, RuleError};
use crate::pattern::{Anchor, Pattern};
use crate::yaml::{Node, Value};
use ipnet::IpNet;
use std::net::IpAddr;
use ward_events::{Event, Field, FieldValue, TextBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Lt,
    Lte,
    Gt,
    Gte,
}

#[derive(Debug, Clone)]
pub(crate) enum ValueTest {
    Str(Pattern),
    Ip(IpAddr),
    Num(Cmp, i64),
    Cidr(IpNet),
    Bool(bool),
    Null,
    Exists(bool),
}

#[derive(Debug, Clone)]
pub(crate) struct FieldTest {
    /// The field name as written (without modifiers).
    name: String,
    /// `None` when no event kind has a field of that name: never present.
    field: Option<Field>,
    tests: Vec<ValueTest>,
    all: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Selection {
    /// A mapping: every field test must hold.
    Map(Vec<FieldTest>),
    /// A list of mappings: any of them.
    AnyMap(Vec<Vec<FieldTest>>),
    /// A list of keywords searched in the raw line.
    Keywords(Vec<Pattern>),
}

#[derive(Default)]
struct Mods {
    anchor: Option<Anchor>,
    all: bool,
    re: bool,
    re_flags: (bool, bool, bool),
    cidr: bool,
    exists: bool,
    cased: bool,
    cmp: Option<Cmp>,
}

fn bad(node: &Node, code: ErrorCode, msg: impl Into<String>) -> RuleError {
    RuleError::new(code, msg).at(node.pos)
}

fn parse_mods(key: &Node, spec: &str) -> Result<(String, Mods), RuleError> {
    let mut parts = spec.split('|');
    let name = parts.next().unwrap_or_default().to_string();
    let mut m = Mods::default();
    for md in parts {
        let anchor = |m: &mut Mods, a| {
            if m.anchor.replace(a).is_some() {
                Err(bad(
                    key,
                    ErrorCode::InvalidValue,
                    "more than one of contains/startswith/endswith",
                ))
            } else {
                Ok(())
            }
        };
        match md {
            "contains" => anchor(&mut m, Anchor::Contains)?,
            "startswith" => anchor(&mut m, Anchor::StartsWith)?,
            "endswith" => anchor(&mut m, Anchor::EndsWith)?,
            "all" => m.all = true,
            "re" => m.re = true,
            "i" | "m" | "s" if m.re => match md {
                "i" => m.re_flags.0 = true,
                "m" => m.re_flags.1 = true,
                _ => m.re_flags.2 = true,
            },
            "cidr" => m.cidr = true,
            "exists" => m.exists = true,
            "cased" => m.cased = true,
            "lt" => m.cmp = Some(Cmp::Lt),
            "lte" => m.cmp = Some(Cmp::Lte),
            "gt" => m.cmp = Some(Cmp::Gt),
            "gte" => m.cmp = Some(Cmp::Gte),
            "windash" | "base64" | "base64offset" | "utf16le" | "utf16be" | "utf16" | "wide"
            | "fieldref" | "expand" | "minute" | "hour" | "day" | "week" | "month" | "year" => {
                return Err(bad(
                    key,
                    ErrorCode::UnsupportedModifier,
                    format!("modifier `{md}` in `{spec}` is not supported by Ward"),
                ))
            }
            other => {
                return Err(bad(
                    key,
                    ErrorCode::UnknownModifier,
                    format!("`{other}` in `{spec}`"),
                ))
            }
        }
    }
    let special = [m.re, m.cidr, m.exists, m.cmp.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if special > 1 || (special == 1 && m.anchor.is_some()) {
        return Err(bad(
            key,
            ErrorCode::InvalidValue,
            format!("modifiers in `{spec}` cannot be combined"),
        ));
    }
    Ok((name, m))
}

fn compile_value(v: &Node, m: &Mods) -> Result<ValueTest, RuleError> {
    if m.exists {
        return match v.value {
            Value::Bool(b) => Ok(ValueTest::Exists(b)),
            _ => Err(bad(
                v,
                ErrorCode::InvalidValue,
                "`|exists` needs true or false",
            )),
        };
    }
    let text = match &v.value {
        Value::Null => return Ok(ValueTest::Null),
        Value::Bool(b) if !m.re && !m.cidr && m.anchor.is_none() => return Ok(ValueTest::Bool(*b)),
        Value::Seq(_) | Value::Map(_) => {
            return Err(bad(
                v,
                ErrorCode::InvalidValue,
                format!("a field value must be a scalar, not a {}", v.type_name()),
            ))
        }
        _ => v.as_text().unwrap_or_default(),
    };
    if let Some(cmp) = m.cmp {
        let n = match v.value {
            Value::Int(i) => i,
            _ => text.trim().parse::<i64>().map_err(|_| {
                bad(
                    v,
                    ErrorCode::InvalidValue,
                    format!("`{text}` is not an integer"),
                )
            })?,
        };
        return Ok(ValueTest::Num(cmp, n));
    }
    if m.re {
        let re = regex::RegexBuilder::new(&text)
            .case_insensitive(m.re_flags.0)
            .multi_line(m.re_flags.1)
            .dot_matches_new_line(m.re_flags.2)
            .size_limit(1 << 20)
            .dfa_size_limit(1 << 20)
            .build()
            .map_err(|e| bad(v, ErrorCode::BadRegex, e.to_string()))?;
        return Ok(ValueTest::Str(Pattern::regex(re)));
    }
    if m.cidr {
        let net = text
            .parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| bad(v, ErrorCode::BadCidr, format!("`{text}` is not a network")))?;
        return Ok(ValueTest::Cidr(net));
    }
    let anchor = m.anchor.unwrap_or(Anchor::Whole);
    if anchor == Anchor::Whole && !text.contains(['*', '?', '\\']) {
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(ValueTest::Ip(ip));
        }
    }
    Ok(ValueTest::Str(Pattern::sigma(&text, anchor, m.cased)))
}

fn compile_map(entries: &[(Node, Node)]) -> Result<Vec<FieldTest>, RuleError> {
    if entries.is_empty() {
        return Err(RuleError::new(ErrorCode::InvalidValue, "empty selection"));
    }
    let mut tests = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let spec = k.as_text().unwrap_or_default();
        let (name, mut mods) = parse_mods(k, &spec)?;
        // A key with no field name (`'|all': [...]`) is a keyword search of
        // the raw line: substrings, like a plain keyword list.
        let keyword = name.is_empty();
        if keyword && mods.anchor.is_none() && !mods.re {
            mods.anchor = Some(Anchor::Contains);
        }
        let values: Vec<&Node> = match &v.value {
            Value::Seq(items) => items.iter().collect(),
            _ => vec![v],
        };
        if values.is_empty() {
            return Err(bad(
                v,
                ErrorCode::InvalidValue,
                format!("`{spec}` has an empty list"),
            ));
        }
        let tests_for_field = values
            .into_iter()
            .map(|n| compile_value(n, &mods))
            .collect::<Result<Vec<_>, _>>()?;
        tests.push(FieldTest {
            field: if keyword {
                Some(Field::Message)
            } else {
                Field::from_name(&name)
            },
            name: if keyword { "keywords".into() } else { name },
            tests: tests_for_field,
            all: mods.all,
        });
    }
    Ok(tests)
}

/// Compiles one search identifier's value.
pub(crate) fn compile_selection(node: &Node) -> Result<Selection, RuleError> {
    match &node.value {
        Value::Map(entries) => compile_map(entries).map(Selection::Map).map_err(|e| {
            if e.pos.is_none() {
                e.at(node.pos)
            } else {
                e
            }
        }),
        Value::Seq(items) if !items.is_empty() => {
            if items.iter().all(|i| matches!(i.value, Value::Map(_))) {
                let maps = items
                    .iter()
                    .map(|i| compile_map(i.as_map().unwrap_or_default()).map_err(|e| e.at(i.pos)))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Selection::AnyMap(maps))
            } else {
                let kws = items
                    .iter()
                    .map(|i| match i.as_text() {
                        Some(t) => Ok(Pattern::sigma(&t, Anchor::Contains, false)),
                        None => Err(bad(i, ErrorCode::InvalidValue, "keywords must be scalars")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Selection::Keywords(kws))
            }
        }
        Value::Str(s) => Ok(Selection::Keywords(vec![Pattern::sigma(
            s,
            Anchor::Contains,
            false,
        )])),
        _ => Err(bad(
            node,
            ErrorCode::InvalidValue,
            format!(
                "a selection must be a mapping or a list, not a {}",
                node.type_name()
            ),
        )),
    }
}

fn test_value(t: &ValueTest, v: Option<FieldValue<'_>>) -> bool {
    match t {
        ValueTest::Exists(b) => v.is_some() == *b,
        ValueTest::Null => matches!(v, None | Some(FieldValue::Str(""))),
        _ => {
            let Some(v) = v else { return false };
            match (t, v) {
                (ValueTest::Ip(ip), FieldValue::Ip(x)) => x == *ip,
                (ValueTest::Ip(ip), FieldValue::Str(s)) => {
                    s.parse::<IpAddr>().is_ok_and(|x| x == *ip)
                }
                (ValueTest::Ip(_), _) => false,
                (ValueTest::Cidr(net), FieldValue::Ip(x)) => net.contains(&x),
                (ValueTest::Cidr(net), FieldValue::Str(s)) => {
                    s.parse::<IpAddr>().is_ok_and(|x| net.contains(&x))
                }
                (ValueTest::Cidr(_), _) => false,
                (ValueTest::Bool(b), FieldValue::Bool(x)) => x == *b,
                (ValueTest::Bool(b), FieldValue::Str(s)) => {
                    s.eq_ignore_ascii_case(if *b { "true" } else { "false" })
                }
                (ValueTest::Bool(_), _) => false,
                (ValueTest::Num(cmp, n), v) => {
                    let x = match v {
                        FieldValue::Int(i) => i,
                        FieldValue::Str(s) => match s.trim().parse::<i64>() {
                            Ok(i) => i,
                            Err(_) => return false,
                        },
                        _ => return false,
                    };
                    match cmp {
                        Cmp::Lt => x < *n,
                        Cmp::Lte => x <= *n,
                        Cmp::Gt => x > *n,
                        Cmp::Gte => x >= *n,
                    }
                }
                (ValueTest::Str(p), v) => {
                    let mut buf = TextBuf::default();
                    p.matches(v.as_text(&mut buf))
                }
                (ValueTest::Exists(_) | ValueTest::Null, _) => false,
            }
        }
    }
}

impl FieldTest {
    fn matches(&self, event: &Event) -> bool {
        let v = self.field.and_then(|f| event.get(f));
        if self.all {
            self.tests.iter().all(|t| test_value(t, v))
        } else {
            self.tests.iter().any(|t| test_value(t, v))
        }
    }
}

impl Selection {
    pub fn matches(&self, event: &Event) -> bool {
        match self {
            Selection::Map(tests) => tests.iter().all(|t| t.matches(event)),
            Selection::AnyMap(maps) => maps.iter().any(|m| m.iter().all(|t| t.matches(event))),
            Selection::Keywords(kws) => match event.get(Field::Message) {
                Some(FieldValue::Str(raw)) => kws.iter().any(|k| k.matches(raw)),
                _ => false,
            },
        }
    }

    /// The fields this selection reads: `(name as written, resolved field)`;
    /// keywords read `Message`.
    pub fn fields(&self) -> Vec<(&str, Option<Field>)> {
        fn of(tests: &[FieldTest]) -> impl Iterator<Item = (&str, Option<Field>)> {
            tests.iter().map(|t| (t.name.as_str(), t.field))
        }
        match self {
            Selection::Map(t) => of(t).collect(),
            Selection::AnyMap(maps) => maps.iter().flat_map(|m| of(m)).collect(),
            Selection::Keywords(_) => vec![("keywords", Some(Field::Message))],
        }
    }

    /// True when matching needs the raw line (`keywords`, or a `Message` field).
    pub fn needs_raw(&self) -> bool {
        let uses = |tests: &[FieldTest]| tests.iter().any(|t| t.field == Some(Field::Message));
        match self {
            Selection::Map(t) => uses(t),
            Selection::AnyMap(maps) => maps.iter().any(|m| uses(m)),
            Selection::Keywords(_) => true,
        }
    }
}
