//! Offline replay of an auth log through a rule set (for `ward-agent
//! replay` and `ward-server rules test`). Pure: lines in, alerts out.

use crate::alert::Alert;
use crate::engine::Engine;
use crate::rule::RuleSet;
use ward_authlog::{parse_line, ParseContext};

/// Host time going back by more than this means the log crossed New Year
/// (classic syslog timestamps carry no year).
const YEAR_ROLLOVER_MS: i64 = 180 * 86_400_000;

/// Replays auth-log `lines` (classic timestamps in `year`, UTC) through a
/// fresh engine over `ruleset`, with the engine clock following the log.
/// Event ids are 1, 2, 3 ... in the order events are parsed. When the
/// timestamps jump back by more than half a year, the year is incremented.
pub fn replay<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    year: i32,
    ruleset: &RuleSet,
) -> Vec<Alert> {
    let mut engine = Engine::new(ruleset.clone());
    let mut ctx = ParseContext::new(year, "replay");
    ctx.keep_raw = ruleset.needs_raw();
    let mut next_id = 1u64;
    let mut last_ms = i64::MIN;
    let mut alerts = Vec::new();
    for line in lines {
        let mut parsed = parse_line(line, &ctx);
        if let Some(t) = parsed.host_time_ms() {
            if last_ms != i64::MIN && t < last_ms.saturating_sub(YEAR_ROLLOVER_MS) {
                ctx.year += 1;
                parsed = parse_line(line, &ctx);
            }
        }
        for mut event in parsed {
            event.id = next_id;
            next_id += 1;
            last_ms = last_ms.max(event.host_time_ms);
            alerts.extend(engine.process(&event, event.host_time_ms));
        }
    }
    alerts
}
