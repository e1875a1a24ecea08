//! Any text as a rule file: compiling never panics (errors are fine), and a
//! rule set that compiles can evaluate events without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_rules::{Engine, RuleSetBuilder};

const LINES: &[&str] = &[
    "Dec 10 06:55:48 h sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2",
    "Dec 10 06:55:49 h sshd[1]: Failed password for invalid user x from 2001:db8::1 port 22 ssh2",
    "Dec 10 06:55:50 h sshd[1]: Accepted password for root from 192.0.2.1 port 22 ssh2",
    "Dec 10 06:55:51 h su[2]: FAILED SU (to root) alice on pts/0",
    "Dec 10 06:55:52 h sudo:    alice : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/id",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut b = RuleSetBuilder::new();
    b.add_source("fuzz.yml", text);
    let (set, errors) = b.build_lenient();
    for e in &errors {
        let _ = e.to_string();
    }
    if set.is_empty() {
        return;
    }
    let _ = ward_rules::replay(LINES.iter().copied(), 2026, &set);
    let mut engine = Engine::new(set);
    engine.expire(0);
});
