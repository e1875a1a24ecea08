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
    (
        "builtin/process.yml",
        include_str!("../builtin/process.yml"),
    ),
    (
        "builtin/persistence.yml",
        include_str!("../builtin/persistence.yml"),
    ),
    (
        "builtin/accounts.yml",
        include_str!("../builtin/accounts.yml"),
    ),
    (
        "builtin/integrity.yml",
        include_str!("../builtin/integrity.yml"),
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
    "ward-proc-001",
    "ward-proc-002",
    "ward-proc-003",
    "ward-proc-004",
    "ward-proc-005",
    "ward-proc-006",
    "ward-proc-007",
    "ward-proc-008",
    "ward-proc-009",
    "ward-proc-010",
    "ward-proc-011",
    "ward-persist-001",
    "ward-persist-002",
    "ward-persist-003",
    "ward-persist-004",
    "ward-persist-005",
    "ward-persist-006",
    "ward-persist-007",
    "ward-persist-008",
    "ward-persist-009",
    "ward-persist-010",
    "ward-account-001",
    "ward-account-002",
    "ward-account-003",
    "ward-account-004",
    "ward-fim-001",
    "ward-fim-002",
    "ward-evasion-001",
    "ward-evasion-002",
];
