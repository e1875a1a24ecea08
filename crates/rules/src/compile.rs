//! Rule set compilation: parse every document, apply settings, resolve
//! correlation references, order correlations, decide which rules alert.

use crate::error::{CompileErrors, ErrorCode, RuleError};
use crate::parse::{parse_rule, parse_timespan, RawBody, RawCorrelation, RawRule};
use crate::rule::{Body, Correlation, CorrelationType, GroupField, Rule, RuleSet};
use crate::settings::RuleSettings;
use crate::yaml::parse_documents;
use std::collections::HashMap;
use ward_events::{kind_fields, Field, KIND_COUNT, KIND_NAMES};

/// Most rules one rule set may hold.
pub const MAX_RULES: usize = 10_000;

/// Collects rule sources and settings, then compiles them into a [`RuleSet`].
#[derive(Debug, Clone, Default)]
pub struct RuleSetBuilder {
    sources: Vec<(String, String)>,
    settings: RuleSettings,
}

impl RuleSetBuilder {
    /// An empty builder (no rules).
    pub fn new() -> Self {
        RuleSetBuilder::default()
    }

    /// A builder holding Ward's built-in rules.
    pub fn with_builtin() -> Self {
        let mut b = RuleSetBuilder::new();
        for (name, text) in crate::builtin::SOURCES {
            b.add_source(*name, *text);
        }
        b
    }

    /// Adds one YAML text (one or more `---`-separated documents); `name`
    /// (a file name) appears in errors and in [`crate::RuleInfo::file`].
    pub fn add_source(&mut self, name: impl Into<String>, text: impl Into<String>) -> &mut Self {
        self.sources.push((name.into(), text.into()));
        self
    }

    /// Per-rule overrides applied at compile time.
    pub fn settings(&mut self, settings: RuleSettings) -> &mut Self {
        self.settings = settings;
        self
    }

    /// Compiles; any error fails the whole set.
    pub fn build(&self) -> Result<RuleSet, CompileErrors> {
        let (set, errors) = compile(&self.sources, &self.settings);
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(CompileErrors(errors))
        }
    }

    /// Compiles what compiles: rules with errors (and correlations that
    /// depend on them) are left out and their errors returned.
    pub fn build_lenient(&self) -> (RuleSet, Vec<RuleError>) {
        compile(&self.sources, &self.settings)
    }
}

fn err_for(raw: &RawRule, code: ErrorCode, msg: String) -> RuleError {
    RuleError::new(code, msg)
        .at(raw.pos)
        .in_rule(Some(&raw.info.id))
        .in_file(&raw.info.file)
}

fn apply_settings(raws: &mut [RawRule], settings: &RuleSettings, errors: &mut Vec<RuleError>) {
    for (id, ov) in &settings.rules {
        let Some(raw) = raws
            .iter_mut()
            .find(|r| r.info.id == *id || r.info.name.as_deref() == Some(id))
        else {
            errors.push(
                RuleError::new(ErrorCode::BadSetting, format!("no rule `{id}`")).in_rule(Some(id)),
            );
            continue;
        };
        let corr = match &mut raw.body {
            RawBody::Correlation(c) => Some(c),
            RawBody::Detection(_) => None,
        };
        let mut bad =
            |m: String| errors.push(RuleError::new(ErrorCode::BadSetting, m).in_rule(Some(id)));
        if let Some(n) = ov.threshold {
            match corr {
                Some(c)
                    if c.ctype != CorrelationType::FirstSeen && (1..=1_000_000).contains(&n) =>
                {
                    c.threshold = Some(n as usize)
                }
                Some(c) if c.ctype != CorrelationType::FirstSeen => {
                    bad(format!("threshold {n} is out of range 1..=1000000"))
                }
                _ => bad("threshold applies to event_count, value_count and temporal rules".into()),
            }
        }
        if let Some(span) = &ov.timespan {
            let corr = match &mut raw.body {
                RawBody::Correlation(c) => Some(c),
                RawBody::Detection(_) => None,
            };
            match (corr, parse_timespan(span)) {
                (Some(c), Some(ms)) => c.timespan_ms = Some(ms),
                (Some(_), None) => bad(format!("timespan `{span}`: expected <number><s|m|h|d>")),
                (None, _) => bad("timespan applies to correlation rules".into()),
            }
        }
        if let Some(sev) = ov.severity {
            raw.info.severity = sev;
            raw.has_level = true;
        }
        if let Some(on) = ov.enabled {
            raw.info.enabled = on;
        }
    }
}

/// Resolves references among `alive` rules; returns indices of referenced rules.
fn resolve(
    raws: &[RawRule],
    alive: &[bool],
    c: &RawCorrelation,
) -> Result<Vec<usize>, (String, crate::error::Pos)> {
    c.rules
        .iter()
        .map(|(r, pos)| {
            raws.iter()
                .position(|x| x.info.id == *r)
                .or_else(|| raws.iter().position(|x| x.info.name.as_deref() == Some(r)))
                .filter(|&i| alive[i])
                .ok_or_else(|| (r.clone(), *pos))
        })
        .collect()
}

/// Marks correlations on a reference cycle; returns whether any was found.
fn drop_cycles(
    raws: &[RawRule],
    alive: &mut [bool],
    refs: &[Vec<usize>],
    errors: &mut Vec<RuleError>,
) -> bool {
    // 0 = unvisited, 1 = on stack, 2 = done.
    let mut state = vec![0u8; raws.len()];
    let mut found = false;
    for start in 0..raws.len() {
        if state[start] != 0 || !alive[start] {
            continue;
        }
        let mut stack = vec![(start, 0usize)];
        state[start] = 1;
        while let Some((node, next)) = stack.pop() {
            if let Some(&child) = refs[node].get(next) {
                stack.push((node, next + 1));
                match state[child] {
                    0 if alive[child] => {
                        state[child] = 1;
                        stack.push((child, 0));
                    }
                    1 => {
                        found = true;
                        alive[node] = false;
                        errors.push(err_for(
                            &raws[node],
                            ErrorCode::CorrelationCycle,
                            format!(
                                "`{}` refers back to itself through `{}`",
                                raws[node].info.id, raws[child].info.id
                            ),
                        ));
                    }
                    _ => {}
                }
            } else {
                state[node] = 2;
            }
        }
    }
    found
}

pub(crate) fn compile(
    sources: &[(String, String)],
    settings: &RuleSettings,
) -> (RuleSet, Vec<RuleError>) {
    let mut errors = Vec::new();
    let mut raws: Vec<RawRule> = Vec::new();
    for (file, text) in sources {
        let docs = match parse_documents(text) {
            Ok(d) => d,
            Err(e) => {
                errors.push(e.in_file(file));
                continue;
            }
        };
        for (i, doc) in docs.iter().enumerate() {
            if raws.len() >= MAX_RULES {
                errors.push(
                    RuleError::new(ErrorCode::Limit, format!("more than {MAX_RULES} rules"))
                        .in_file(file),
                );
                break;
            }
            match parse_rule(doc, file, i + 1) {
                Ok(r) => raws.push(r),
                Err(e) => errors.push(e),
            }
        }
    }
    // Duplicate ids and names: the later rule is an error.
    let mut alive = vec![true; raws.len()];
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, r) in raws.iter().enumerate() {
        let keys = std::iter::once(r.info.id.as_str())
            .chain(r.info.name.as_deref().filter(|n| *n != r.info.id));
        for key in keys {
            if let Some(&first) = seen.get(key) {
                alive[i] = false;
                errors.push(err_for(
                    r,
                    ErrorCode::DuplicateRule,
                    format!(
                        "`{key}` is already used by the rule in {}",
                        raws[first].info.file
                    ),
                ));
            } else {
                seen.insert(key, i);
            }
        }
    }
    apply_settings(&mut raws, settings, &mut errors);
    // Resolve references until stable (dropping a rule can break others).
    let mut refs: Vec<Vec<usize>> = vec![Vec::new(); raws.len()];
    loop {
        let mut changed = false;
        for i in 0..raws.len() {
            if !alive[i] {
                continue;
            }
            if let RawBody::Correlation(c) = &raws[i].body {
                match resolve(&raws, &alive, c) {
                    Ok(r) => refs[i] = r,
                    Err((name, pos)) => {
                        alive[i] = false;
                        changed = true;
                        errors.push(
                            err_for(
                                &raws[i],
                                ErrorCode::UnknownRuleReference,
                                format!("no usable rule with id or name `{name}`"),
                            )
                            .at(pos),
                        );
                    }
                }
            }
        }
        if !changed && !drop_cycles(&raws, &mut alive, &refs, &mut errors) {
            break;
        }
    }
    (link(raws, &alive, &refs), errors)
}

fn link(raws: Vec<RawRule>, alive: &[bool], refs: &[Vec<usize>]) -> RuleSet {
    // New index of each surviving rule.
    let mut new_idx = vec![usize::MAX; raws.len()];
    let mut n = 0;
    for (i, a) in alive.iter().enumerate() {
        if *a {
            new_idx[i] = n;
            n += 1;
        }
    }
    let mut rules = Vec::with_capacity(n);
    let mut has_level = Vec::with_capacity(n);
    let names: Vec<(String, Option<String>)> = raws
        .iter()
        .map(|r| (r.info.id.clone(), r.info.name.clone()))
        .collect();
    for (i, raw) in raws.into_iter().enumerate() {
        if !alive[i] {
            continue;
        }
        has_level.push(raw.has_level);
        let body = match raw.body {
            RawBody::Detection(d) => Body::Detection(d),
            RawBody::Correlation(c) => {
                let targets: Vec<usize> = refs[i].iter().map(|&r| new_idx[r]).collect();
                let group_by = c
                    .group_by
                    .iter()
                    .map(|g| GroupField {
                        name: g.clone(),
                        per_rule: refs[i]
                            .iter()
                            .map(|&r| {
                                let alias =
                                    c.aliases.iter().find(|(a, _)| a == g).and_then(|(_, per)| {
                                        per.iter()
                                            .find(|(rule, _)| {
                                                *rule == names[r].0
                                                    || Some(rule) == names[r].1.as_ref()
                                            })
                                            .map(|(_, f)| f.as_str())
                                    });
                                Field::from_name(alias.unwrap_or(g))
                            })
                            .collect(),
                    })
                    .collect();
                let default_threshold = match c.ctype {
                    CorrelationType::Temporal | CorrelationType::TemporalOrdered => targets.len(),
                    _ => 1,
                };
                Body::Correlation(Correlation {
                    ctype: c.ctype,
                    rules: targets,
                    group_by,
                    timespan_ms: c.timespan_ms.unwrap_or(0),
                    threshold: c.threshold.unwrap_or(default_threshold),
                    field: c.field.map(|f| {
                        let id = Field::from_name(&f);
                        (f, id)
                    }),
                    generate: c.generate,
                    per_host: c.per_host,
                })
            }
        };
        rules.push(Rule {
            info: raw.info,
            body,
        });
    }
    finish(rules, &has_level)
}

fn finish(mut rules: Vec<Rule>, has_level: &[bool]) -> RuleSet {
    let n = rules.len();
    let mut consumers = vec![Vec::new(); n];
    for (i, r) in rules.iter().enumerate() {
        if let Body::Correlation(c) = &r.body {
            for &t in &c.rules {
                if !consumers[t].contains(&i) {
                    consumers[t].push(i);
                }
            }
        }
    }
    // Depth-first post-order over references gives dependency order.
    let mut corr_order = Vec::new();
    let mut done = vec![false; n];
    for start in 0..n {
        let mut stack = vec![(start, false)];
        while let Some((i, expanded)) = stack.pop() {
            if done[i] {
                continue;
            }
            if expanded {
                done[i] = true;
                if matches!(rules[i].body, Body::Correlation(_)) {
                    corr_order.push(i);
                }
                continue;
            }
            stack.push((i, true));
            if let Body::Correlation(c) = &rules[i].body {
                stack.extend(c.rules.iter().filter(|&&t| !done[t]).map(|&t| (t, false)));
            }
        }
    }
    let generated: Vec<bool> = (0..n)
        .map(|i| {
            consumers[i]
                .iter()
                .any(|&c| matches!(&rules[c].body, Body::Correlation(k) if k.generate))
        })
        .collect();
    coverage(&mut rules, &corr_order);
    let mut by_kind = vec![Vec::new(); KIND_COUNT];
    let mut needs_raw = false;
    for (i, r) in rules.iter_mut().enumerate() {
        r.info.alerts =
            r.info.enabled && (consumers[i].is_empty() || (generated[i] && has_level[i]));
        if let Body::Detection(d) = &r.body {
            for (k, list) in by_kind.iter_mut().enumerate() {
                if d.kinds[k] {
                    list.push(i);
                }
            }
            needs_raw |= d.selections.iter().any(|s| s.needs_raw());
        }
    }
    RuleSet {
        rules,
        by_kind,
        corr_order,
        consumers,
        needs_raw,
    }
}

/// Fills `kinds` and `unknown_fields` of every rule (correlations after the
/// rules they refer to: `corr_order` is dependency order).
fn coverage(rules: &mut [Rule], corr_order: &[usize]) {
    for r in rules.iter_mut() {
        let Body::Detection(d) = &r.body else {
            continue;
        };
        let admitted: Vec<usize> = (0..KIND_COUNT).filter(|&k| d.kinds[k]).collect();
        r.info.kinds = admitted.iter().map(|&k| KIND_NAMES[k]).collect();
        let mut unknown: Vec<String> = Vec::new();
        for sel in &d.selections {
            for (name, field) in sel.fields() {
                let present = field.is_some_and(|f| admitted.iter().any(|&k| kind_fields(k, f)));
                if !present && !admitted.is_empty() && !unknown.iter().any(|u| u == name) {
                    unknown.push(name.to_string());
                }
            }
        }
        r.info.unknown_fields = unknown;
    }
    for &ci in corr_order {
        let Body::Correlation(c) = &rules[ci].body else {
            continue;
        };
        let mut kinds: Vec<&'static str> = Vec::new();
        let mut unknown: Vec<String> = Vec::new();
        for &t in &c.rules {
            for k in &rules[t].info.kinds {
                if !kinds.contains(k) {
                    kinds.push(k);
                }
            }
            for u in &rules[t].info.unknown_fields {
                if !unknown.contains(u) {
                    unknown.push(u.clone());
                }
            }
        }
        rules[ci].info.kinds = kinds;
        rules[ci].info.unknown_fields = unknown;
    }
}
