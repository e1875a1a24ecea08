//! A small YAML document tree with positions, built from `saphyr-parser`
//! events. Bounded: input size, nesting depth and node count are limited,
//! and aliases are refused (no "billion laughs").

use crate::error::{ErrorCode, Pos, RuleError};
use saphyr_parser::{Event, Parser, ScalarStyle};

/// Largest rule file accepted, in bytes.
pub const MAX_SOURCE_BYTES: usize = 1024 * 1024;
/// Deepest nesting of sequences and mappings accepted.
pub const MAX_DEPTH: usize = 32;
/// Most nodes (scalars, sequences, mappings) one file may hold.
pub const MAX_NODES: usize = 100_000;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub value: Value,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// Any other scalar, with whether it was quoted (quoted scalars are
    /// never typed as null, bool or int).
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The scalar as text (strings, ints and bools; `None` for null,
    /// sequences and maps).
    pub fn as_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Str(_) => "string",
            Value::Seq(_) => "list",
            Value::Map(_) => "mapping",
        }
    }
}

fn typed_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !digits.is_empty() && digits.len() <= 18 && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = s.parse::<i64>() {
            return Value::Int(i);
        }
    }
    Value::Str(s.to_string())
}

fn pos_of(m: &saphyr_parser::Marker) -> Pos {
    Pos {
        line: u32::try_from(m.line()).unwrap_or(u32::MAX),
        col: u32::try_from(m.col() + 1).unwrap_or(u32::MAX),
    }
}

enum Frame {
    Seq(Pos, Vec<Node>),
    Map(Pos, Vec<(Node, Node)>, Option<Node>),
}

fn err(pos: Pos, msg: impl Into<String>) -> RuleError {
    RuleError::new(ErrorCode::Yaml, msg).at(pos)
}

/// Parses every document of a (multi-document) YAML text.
pub(crate) fn parse_documents(text: &str) -> Result<Vec<Node>, RuleError> {
    if text.len() > MAX_SOURCE_BYTES {
        return Err(RuleError::new(
            ErrorCode::Limit,
            format!(
                "rule file is {} bytes, more than the limit of {MAX_SOURCE_BYTES}",
                text.len()
            ),
        ));
    }
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut nodes = 0usize;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| err(pos_of(e.marker()), e.info().to_string()))?;
        let pos = pos_of(&span.start);
        let node = match event {
            Event::Alias(_) => {
                return Err(err(pos, "YAML aliases (*name) are not supported in rules"));
            }
            Event::Scalar(v, style, _, _) => {
                let value = if style == ScalarStyle::Plain {
                    typed_plain(&v)
                } else {
                    Value::Str(v.into_owned())
                };
                Node { value, pos }
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(RuleError::new(
                        ErrorCode::Limit,
                        format!("nesting deeper than {MAX_DEPTH} levels"),
                    )
                    .at(pos));
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq(pos, Vec::new())
                } else {
                    Frame::Map(pos, Vec::new(), None)
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(p, items)) => Node {
                    value: Value::Seq(items),
                    pos: p,
                },
                Some(Frame::Map(p, entries, None)) => Node {
                    value: Value::Map(entries),
                    pos: p,
                },
                _ => return Err(err(pos, "unbalanced YAML structure")),
            },
            _ => continue,
        };
        nodes += 1;
        if nodes > MAX_NODES {
            return Err(RuleError::new(
                ErrorCode::Limit,
                format!("more than {MAX_NODES} YAML nodes"),
            )
            .at(pos));
        }
        match stack.last_mut() {
            None => docs.push(node),
            Some(Frame::Seq(_, items)) => items.push(node),
            Some(Frame::Map(_, entries, pending)) => match pending.take() {
                None => {
                    if !matches!(node.value, Value::Str(_) | Value::Int(_) | Value::Bool(_)) {
                        return Err(err(node.pos, "mapping keys must be plain scalars"));
                    }
                    if entries.iter().any(|(k, _)| k.value == node.value) {
                        return Err(err(
                            node.pos,
                            format!("duplicate key `{}`", node.as_text().unwrap_or_default()),
                        ));
                    }
                    *pending = Some(node);
                }
                Some(key) => entries.push((key, node)),
            },
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_types_and_positions() {
        let docs = parse_documents("a: 1\nb: [x, 'true', true, ~]\n---\n- -5\n").unwrap();
        assert_eq!(docs.len(), 2);
        let a = docs[0].get("a").unwrap();
        assert_eq!(a.value, Value::Int(1));
        assert_eq!((a.pos.line, a.pos.col), (1, 4));
        let b = docs[0].get("b").unwrap();
        let Value::Seq(items) = &b.value else {
            panic!()
        };
        assert_eq!(items[0].value, Value::Str("x".into()));
        assert_eq!(items[1].value, Value::Str("true".into()));
        assert_eq!(items[2].value, Value::Bool(true));
        assert_eq!(items[3].value, Value::Null);
        assert_eq!((b.pos.line, b.pos.col), (2, 4));
        let Value::Seq(items) = &docs[1].value else {
            panic!()
        };
        assert_eq!(items[0].value, Value::Int(-5));
    }

    #[test]
    fn aliases_depth_and_duplicates_are_refused() {
        let e = parse_documents("a: &x [1]\nb: *x\n").unwrap_err();
        assert_eq!(e.code, ErrorCode::Yaml);
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(parse_documents(&deep).unwrap_err().code, ErrorCode::Limit);
        assert_eq!(
            parse_documents("a: 1\na: 2\n").unwrap_err().code,
            ErrorCode::Yaml
        );
        assert_eq!(parse_documents("a: [\n").unwrap_err().code, ErrorCode::Yaml);
    }
}
