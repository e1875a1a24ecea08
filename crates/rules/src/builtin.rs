//! Ward's built-in rules, embedded at build time from `crates/rules/builtin/`.

/// `(file name, YAML text)` of every built-in rule file.
pub const SOURCES: &[(&str, &str)] = &[
    (
        "builtin/ssh_bruteforce.yml",
        include_str!("../builtin/ssh_bruteforce.yml"),
    ),
    (
        "builtin/ssh_login.yml",
        include_str!("../builtin/ssh_login.yml"),
    ),
    (
        "builtin/privilege.yml",
        include_str!("../builtin/privilege.yml"),
    ),
];

/// Ids of the alerting built-in rules.
pub const RULE_IDS: &[&str] = &[
    "ward-login-001",
    "ward-login-002",
    "ward-login-003",
    "ward-login-004",
    "ward-login-005",
    "ward-login-006",
];
