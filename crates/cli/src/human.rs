//! Numbers, rates and durations as people read them: `1,234`, `29.8/s`,
//! `about 5 min left` (words from the catalogs, in the current language).

use crate::i18n;
use std::time::Duration;

/// A count with thousands separators: `9018` → `9,018`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A number with at most one decimal, and none from 100 up: `29.8`, `30`,
/// `1,234`.
fn short(value: f64) -> String {
    if !value.is_finite() || value <= 0.0 {
        return "0".to_owned();
    }
    if value >= 99.95 {
        // Rounded to a whole number (saturating: a rate is never that big).
        return count(value.round() as u64);
    }
    let text = format!("{value:.1}");
    text.strip_suffix(".0").map(str::to_owned).unwrap_or(text)
}

/// Payouts per second as people read them: `29.8/s`; under one a second,
/// per minute (`12/min`).
pub fn rate(done: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 || done == 0 {
        return i18n::text_str("progress-rate", &[("rate", "0".to_owned())]);
    }
    let per_sec = done as f64 / secs;
    if per_sec >= 0.95 {
        i18n::text_str("progress-rate", &[("rate", short(per_sec))])
    } else {
        i18n::text_str("progress-rate-minute", &[("rate", short(per_sec * 60.0))])
    }
}

/// A duration as people say it: `42 s`, `5 min`, `2 h 5 min` (rounded to
/// whole seconds under a minute, whole minutes above).
pub fn duration(elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().round() as u64;
    if secs < 60 {
        return i18n::text_str("duration-seconds", &[("n", secs.max(1).to_string())]);
    }
    let minutes = (secs + 30) / 60;
    if minutes < 60 {
        return i18n::text_str("duration-minutes", &[("n", minutes.to_string())]);
    }
    i18n::text_str(
        "duration-hours",
        &[
            ("h", count(minutes / 60)),
            ("m", (minutes % 60).to_string()),
        ],
    )
}

/// How long the rest takes at the rate so far; `None` before anything is
/// done or once everything is.
pub fn eta(done: u64, total: u64, elapsed: Duration) -> Option<Duration> {
    if done == 0 || done >= total || elapsed.is_zero() {
        return None;
    }
    let per_item = elapsed.as_secs_f64() / done as f64;
    let left = per_item * (total - done) as f64;
    // A finite, non-negative number of seconds (capped at a year).
    Some(Duration::from_secs_f64(left.clamp(0.0, 31_536_000.0)))
}

/// The name of a ledger phase in the current language.
pub fn phase(name: &str) -> String {
    match name {
        "resolving" | "paying" | "reconciling" | "refreshing" => {
            i18n::text(&format!("phase-{name}"))
        }
        other => other.to_owned(),
    }
}

/// The progress line: `paying: 1,234 / 9,018 · 29.8/s · about 5 min left`.
pub fn progress_line(phase_name: &str, done: u64, total: u64, elapsed: Duration) -> String {
    let mut line = i18n::text_str(
        "progress-line",
        &[
            ("phase", phase(phase_name)),
            ("done", count(done)),
            ("total", count(total)),
        ],
    );
    if done > 0 {
        line.push_str(" · ");
        line.push_str(&rate(done, elapsed));
    }
    if let Some(left) = eta(done, total, elapsed) {
        line.push_str(" · ");
        line.push_str(&i18n::text_str("progress-eta", &[("eta", duration(left))]));
    }
    line
}

/// The final line of a run: `9,018 payout(s) handled in 5 min · 29.8/s`.
pub fn run_rate_line(done: u64, elapsed: Duration) -> String {
    i18n::text_str(
        "run-rate",
        &[
            ("done", count(done)),
            ("elapsed", duration(elapsed)),
            ("rate", rate(done, elapsed)),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_234), "1,234");
        assert_eq!(count(9_018), "9,018");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn rates_have_at_most_one_decimal() {
        let s = Duration::from_secs;
        assert_eq!(rate(298, s(10)), "29.8/s");
        // 1/3 per second: never 0.3333333333333333.
        assert_eq!(rate(1, s(3)), "20/min");
        assert_eq!(rate(300, s(10)), "30/s");
        assert_eq!(rate(123_456, s(10)), "12,346/s");
        assert_eq!(rate(1, Duration::from_millis(7)), "143/s");
        assert_eq!(rate(0, s(10)), "0/s");
        assert_eq!(rate(5, Duration::ZERO), "0/s");
        assert_eq!(short(f64::NAN), "0");
    }

    #[test]
    fn durations_are_rounded_as_people_say_them() {
        let s = Duration::from_secs;
        assert_eq!(duration(Duration::from_millis(300)), "1 s");
        assert_eq!(duration(s(42)), "42 s");
        assert_eq!(duration(s(299)), "5 min");
        assert_eq!(duration(s(3_600 + 5 * 60)), "1 h 5 min");
        assert_eq!(duration(s(90_000)), "25 h 0 min");
    }

    #[test]
    fn the_progress_line_reads_like_a_sentence() {
        let line = progress_line("paying", 1_234, 9_018, Duration::from_secs_f64(41.4));
        assert_eq!(line, "paying: 1,234 / 9,018 · 29.8/s · about 4 min left");
        assert_eq!(
            progress_line("paying", 0, 9_018, Duration::from_secs(1)),
            "paying: 0 / 9,018"
        );
        assert_eq!(
            progress_line("resolving", 10, 10, Duration::from_secs(2)),
            "resolving: 10 / 10 · 5/s"
        );
        assert_eq!(
            eta(1, 3, Duration::from_secs(2)),
            Some(Duration::from_secs(4))
        );
        assert_eq!(eta(0, 3, Duration::from_secs(2)), None);
        assert_eq!(
            run_rate_line(9_018, Duration::from_secs(302)),
            "9,018 payout(s) handled in 5 min · 29.9/s"
        );
    }
}
