//! One YAML document → one unlinked rule (references still by name).

use crate::alert::Severity;
use crate::condition;
use crate::detection::compile_selection;
use crate::error::{ErrorCode, Pos, RuleError};
use crate::rule::{CorrelationType, Detection, RuleInfo};
use crate::yaml::{Node, Value};
use ward_events::{kind_logsource, KIND_COUNT};

/// A correlation before its references are resolved.
#[derive(Debug, Clone)]
pub(crate) struct RawCorrelation {
    pub ctype: CorrelationType,
    pub rules: Vec<(String, Pos)>,
    pub group_by: Vec<String>,
    pub timespan_ms: Option<i64>,
    /// (threshold, position of the condition) for count types.
    pub threshold: Option<usize>,
    pub field: Option<String>,
    pub generate: bool,
    pub per_host: bool,
    /// alias → [(rule reference, field name)]
    pub aliases: Vec<(String, Vec<(String, String)>)>,
}

#[derive(Debug, Clone)]
pub(crate) enum RawBody {
    Detection(Detection),
    Correlation(RawCorrelation),
}

#[derive(Debug, Clone)]
pub(crate) struct RawRule {
    pub info: RuleInfo,
    pub body: RawBody,
    pub pos: Pos,
    /// Whether `id` was written (vs. derived).
    pub has_level: bool,
}

fn e(node: &Node, code: ErrorCode, msg: impl Into<String>) -> RuleError {
    RuleError::new(code, msg).at(node.pos)
}

fn text(node: &Node, what: &str) -> Result<String, RuleError> {
    node.as_text().ok_or_else(|| {
        e(
            node,
            ErrorCode::InvalidValue,
            format!("`{what}` must be text, not a {}", node.type_name()),
        )
    })
}

fn opt_text(doc: &Node, key: &str) -> Result<Option<String>, RuleError> {
    match doc.get(key) {
        None => Ok(None),
        Some(n) if n.value == Value::Null => Ok(None),
        Some(n) => text(n, key).map(Some),
    }
}

fn text_list(node: &Node, what: &str) -> Result<Vec<(String, Pos)>, RuleError> {
    match &node.value {
        Value::Seq(items) => items.iter().map(|i| Ok((text(i, what)?, i.pos))).collect(),
        Value::Null => Ok(Vec::new()),
        _ => Ok(vec![(text(node, what)?, node.pos)]),
    }
}

/// `120s`, `5m`, `1h`, `90d` → milliseconds.
pub(crate) fn parse_timespan(s: &str) -> Option<i64> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    let ms = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return None,
    };
    if n <= 0 || n > 3650 * 86_400 {
        return None;
    }
    n.checked_mul(ms).filter(|v| *v <= 3650 * 86_400_000)
}

fn technique(tag: &str) -> Option<String> {
    let t = tag.strip_prefix("attack.")?;
    let b = t.as_bytes();
    let ok = b.len() >= 5
        && (b[0] == b't' || b[0] == b'T')
        && b[1..5].iter().all(u8::is_ascii_digit)
        && (b.len() == 5
            || (b.len() == 9 && b[5] == b'.' && b[6..].iter().all(u8::is_ascii_digit)));
    ok.then(|| t.to_ascii_uppercase())
}

fn logsource_kinds(doc: &Node) -> Result<[bool; KIND_COUNT], RuleError> {
    let mut kinds = [true; KIND_COUNT];
    let Some(ls) = doc.get("logsource") else {
        return Ok(kinds);
    };
    if ls.as_map().is_none() {
        return Err(e(
            ls,
            ErrorCode::InvalidValue,
            "`logsource` must be a mapping",
        ));
    }
    let product = opt_text(ls, "product")?;
    let category = opt_text(ls, "category")?;
    let service = opt_text(ls, "service")?;
    for (k, slot) in kinds.iter_mut().enumerate() {
        let src = kind_logsource(k);
        *slot = product
            .as_deref()
            .is_none_or(|p| p.eq_ignore_ascii_case(src.product))
            && category
                .as_deref()
                .is_none_or(|c| c.eq_ignore_ascii_case(src.category))
            && service
                .as_deref()
                .is_none_or(|s| src.services.iter().any(|x| x.eq_ignore_ascii_case(s)));
    }
    Ok(kinds)
}

/// `product: linux, category: x, service: y` (the keys present, in that order).
fn describe_logsource(doc: &Node) -> String {
    let Some(ls) = doc.get("logsource") else {
        return String::new();
    };
    ["product", "category", "service"]
        .iter()
        .filter_map(|k| Some(format!("{k}: {}", ls.get(k)?.as_text()?)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn detection(doc: &Node, det: &Node) -> Result<Detection, RuleError> {
    let entries = det.as_map().ok_or_else(|| {
        e(
            det,
            ErrorCode::InvalidValue,
            "`detection` must be a mapping",
        )
    })?;
    let mut names = Vec::new();
    let mut selections = Vec::new();
    let mut cond_node = None;
    for (k, v) in entries {
        let key = text(k, "selection name")?;
        match key.as_str() {
            "condition" => cond_node = Some(v),
            "timeframe" => {
                return Err(e(
                    k,
                    ErrorCode::UnsupportedFeature,
                    "`timeframe` (old aggregation syntax) is not supported; use a correlation rule",
                ))
            }
            _ => {
                selections.push(compile_selection(v)?);
                names.push(key);
            }
        }
    }
    let cond_node = cond_node.ok_or_else(|| {
        e(
            det,
            ErrorCode::MissingField,
            "`detection` has no `condition`",
        )
    })?;
    let conds = text_list(cond_node, "condition")?;
    if conds.is_empty() {
        return Err(e(cond_node, ErrorCode::BadCondition, "empty condition"));
    }
    let mut exprs = Vec::new();
    for (c, pos) in conds {
        exprs.push(condition::parse(&c, &names).map_err(|err| err.at(pos))?);
    }
    let condition = if exprs.len() == 1 {
        exprs.remove(0)
    } else {
        crate::condition::Expr::Or(exprs)
    };
    Ok(Detection {
        selections,
        condition,
        kinds: logsource_kinds(doc)?,
    })
}

fn correlation(doc: &Node, c: &Node) -> Result<RawCorrelation, RuleError> {
    if c.as_map().is_none() {
        return Err(e(
            c,
            ErrorCode::InvalidValue,
            "`correlation` must be a mapping",
        ));
    }
    let tnode = c
        .get("type")
        .ok_or_else(|| e(c, ErrorCode::MissingField, "`correlation` has no `type`"))?;
    let ctype = match text(tnode, "type")?.as_str() {
        "event_count" => CorrelationType::EventCount,
        "value_count" => CorrelationType::ValueCount,
        "temporal" => CorrelationType::Temporal,
        "temporal_ordered" => CorrelationType::TemporalOrdered,
        "first_seen" => CorrelationType::FirstSeen,
        other => {
            return Err(e(
                tnode,
                ErrorCode::UnsupportedCorrelation,
                format!("correlation type `{other}`"),
            ))
        }
    };
    let rules_node = c
        .get("rules")
        .ok_or_else(|| e(c, ErrorCode::MissingField, "`correlation` has no `rules`"))?;
    let rules = text_list(rules_node, "rules")?;
    if rules.is_empty() {
        return Err(e(rules_node, ErrorCode::MissingField, "`rules` is empty"));
    }
    let group_by = match c.get("group-by") {
        Some(g) => text_list(g, "group-by")?
            .into_iter()
            .map(|(s, _)| s)
            .collect(),
        None => Vec::new(),
    };
    let timespan_ms = match c.get("timespan") {
        Some(t) => {
            let s = text(t, "timespan")?;
            Some(parse_timespan(&s).ok_or_else(|| {
                e(
                    t,
                    ErrorCode::BadTimespan,
                    format!("`{s}`: expected <number><s|m|h|d>"),
                )
            })?)
        }
        None if ctype == CorrelationType::FirstSeen => None,
        None => {
            return Err(e(
                c,
                ErrorCode::MissingField,
                "`correlation` has no `timespan`",
            ))
        }
    };
    let mut field = opt_text(c, "field")?;
    let mut threshold = None;
    if let Some(cond) = c.get("condition") {
        let entries = cond.as_map().ok_or_else(|| {
            e(
                cond,
                ErrorCode::UnsupportedCorrelation,
                "a correlation condition must be a mapping like `gte: 8`",
            )
        })?;
        for (k, v) in entries {
            let key = text(k, "condition")?;
            if key == "field" {
                field = Some(text(v, "field")?);
                continue;
            }
            let n = match v.value {
                Value::Int(n) if (0..=1_000_000).contains(&n) => n as usize,
                _ => {
                    return Err(e(
                        v,
                        ErrorCode::InvalidValue,
                        "a count must be an integer from 0 to 1000000",
                    ))
                }
            };
            let t = match key.as_str() {
                "gte" => n,
                "gt" => n + 1,
                "lt" | "lte" | "eq" => {
                    return Err(e(
                        k,
                        ErrorCode::UnsupportedCorrelation,
                        format!("condition `{key}`: only `gte` and `gt` are supported"),
                    ))
                }
                _ => {
                    return Err(e(
                        k,
                        ErrorCode::InvalidValue,
                        format!("unknown condition `{key}`"),
                    ))
                }
            };
            if threshold.replace(t.max(1)).is_some() {
                return Err(e(
                    k,
                    ErrorCode::UnsupportedCorrelation,
                    "only one of `gte` / `gt`",
                ));
            }
        }
    }
    match ctype {
        CorrelationType::EventCount | CorrelationType::ValueCount if threshold.is_none() => {
            return Err(e(
                c,
                ErrorCode::MissingField,
                "`condition` with `gte` or `gt` is required",
            ))
        }
        CorrelationType::ValueCount | CorrelationType::FirstSeen if field.is_none() => {
            return Err(e(
                c,
                ErrorCode::MissingField,
                format!("`{}` needs a `field`", ctype.as_str()),
            ))
        }
        _ => {}
    }
    let mut aliases = Vec::new();
    if let Some(a) = c.get("aliases") {
        let entries = a
            .as_map()
            .ok_or_else(|| e(a, ErrorCode::InvalidValue, "`aliases` must be a mapping"))?;
        for (alias, map) in entries {
            let per = map.as_map().ok_or_else(|| {
                e(
                    map,
                    ErrorCode::InvalidValue,
                    "an alias maps rule names to fields",
                )
            })?;
            let per = per
                .iter()
                .map(|(r, f)| Ok((text(r, "rule")?, text(f, "field")?)))
                .collect::<Result<Vec<_>, RuleError>>()?;
            aliases.push((text(alias, "alias")?, per));
        }
    }
    let flag = |n: Option<&Node>, default: bool| -> Result<bool, RuleError> {
        match n {
            None => Ok(default),
            Some(Node {
                value: Value::Bool(b),
                ..
            }) => Ok(*b),
            Some(other) => Err(e(other, ErrorCode::InvalidValue, "expected true or false")),
        }
    };
    let generate = flag(c.get("generate"), false)? || flag(doc.get("generate"), false)?;
    let per_host = flag(c.get("per-host"), true)?;
    Ok(RawCorrelation {
        ctype,
        rules,
        group_by,
        timespan_ms,
        threshold,
        field,
        generate,
        per_host,
        aliases,
    })
}

/// Parses one document. `doc_no` (1-based) names rules that have no id.
pub(crate) fn parse_rule(doc: &Node, file: &str, doc_no: usize) -> Result<RawRule, RuleError> {
    if doc.as_map().is_none() {
        return Err(e(
            doc,
            ErrorCode::InvalidValue,
            format!("a rule must be a mapping, not a {}", doc.type_name()),
        )
        .in_file(file));
    }
    let id = opt_text(doc, "id").map_err(|err| err.in_file(file))?;
    let name = opt_text(doc, "name").map_err(|err| err.in_file(file))?;
    let label = id.clone().or_else(|| name.clone());
    let inner = || -> Result<RawRule, RuleError> {
        if doc.get("action").is_some() {
            return Err(e(
                doc,
                ErrorCode::UnsupportedFeature,
                "`action` (rule collections) is not supported",
            ));
        }
        let title = opt_text(doc, "title")?
            .ok_or_else(|| e(doc, ErrorCode::MissingField, "the rule has no `title`"))?;
        let level = opt_text(doc, "level")?;
        let severity = match &level {
            Some(l) => Severity::from_level(l).ok_or_else(|| {
                e(
                    doc.get("level").unwrap_or(doc),
                    ErrorCode::UnknownLevel,
                    format!("`{l}` (expected informational, low, medium, high or critical)"),
                )
            })?,
            None => Severity::Reminder,
        };
        let tags: Vec<String> = match doc.get("tags") {
            Some(t) => text_list(t, "tags")?.into_iter().map(|(s, _)| s).collect(),
            None => Vec::new(),
        };
        let body = match (doc.get("detection"), doc.get("correlation")) {
            (Some(_), Some(c)) => {
                return Err(e(
                    c,
                    ErrorCode::InvalidValue,
                    "a rule has `detection` or `correlation`, not both",
                ))
            }
            (Some(d), None) => RawBody::Detection(detection(doc, d)?),
            (None, Some(c)) => RawBody::Correlation(correlation(doc, c)?),
            (None, None) => {
                return Err(e(
                    doc,
                    ErrorCode::MissingField,
                    "the rule has neither `detection` nor `correlation`",
                ))
            }
        };
        let correlation = match &body {
            RawBody::Correlation(c) => Some(c.ctype),
            RawBody::Detection(_) => None,
        };
        Ok(RawRule {
            info: RuleInfo {
                id: label.clone().unwrap_or_else(|| format!("{file}#{doc_no}")),
                name: name.clone(),
                title,
                author: opt_text(doc, "author")?,
                description: opt_text(doc, "description")?,
                level: level.clone(),
                severity,
                techniques: tags.iter().filter_map(|t| technique(t)).collect(),
                tags,
                file: file.to_string(),
                correlation,
                alerts: false,
                enabled: true,
                kinds: Vec::new(),
                unknown_fields: Vec::new(),
                logsource: describe_logsource(doc),
            },
            body,
            pos: doc.pos,
            has_level: level.is_some(),
        })
    };
    inner().map_err(|err| err.in_rule(label.as_deref()).in_file(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timespans() {
        assert_eq!(parse_timespan("120s"), Some(120_000));
        assert_eq!(parse_timespan("5m"), Some(300_000));
        assert_eq!(parse_timespan("1h"), Some(3_600_000));
        assert_eq!(parse_timespan("90d"), Some(90 * 86_400_000));
        for bad in [
            "",
            "s",
            "10",
            "10x",
            "-5s",
            "0s",
            "1.5h",
            "99999999999d",
            "5é",
        ] {
            assert_eq!(parse_timespan(bad), None, "{bad}");
        }
    }

    #[test]
    fn techniques_from_tags() {
        assert_eq!(technique("attack.t1110.001").as_deref(), Some("T1110.001"));
        assert_eq!(technique("attack.t1078").as_deref(), Some("T1078"));
        assert_eq!(technique("attack.credential_access"), None);
        assert_eq!(technique("attack.t11"), None);
        assert_eq!(technique("cve.2021-1234"), None);
    }
}
