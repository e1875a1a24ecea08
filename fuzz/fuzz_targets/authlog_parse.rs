//! Any bytes as an auth-log line: never panics, yields at most MAX_REPEAT
//! events, and every event survives a JSON round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_authlog::{parse_line, ParseContext, MAX_REPEAT};
use ward_events::Event;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let mut ctx = ParseContext::new(2026, "fuzz");
    ctx.keep_raw = data.len() % 2 == 0;
    let parsed = parse_line(line, &ctx);
    assert!(parsed.len() <= MAX_REPEAT as usize);
    // Only look at the first event of a repeated line (they are clones).
    if let Some(event) = parsed.take(1).next() {
        if let Some(raw) = &event.raw {
            assert!(raw.len() <= ward_events::MAX_RAW_BYTES);
            assert!(line.starts_with(raw.as_str()));
        }
        let json = serde_json::to_string(&event).expect("events serialize");
        let back: Event = serde_json::from_str(&json).expect("events deserialize");
        assert_eq!(back, event);
    }
});
