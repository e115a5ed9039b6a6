//! Time: the [`Clock`] the sandbox reads, and Beijing-time formatting (with
//! jiff, at the fixed +08:00 offset; no time zone database).
//!
//! Every time the sandbox shows (reply fields, the ledger, the admin API) is
//! Beijing time (UTC+8), and every daily counter is keyed by the Beijing
//! date. The clock is injectable: [`SystemClock`] for real runs,
//! [`ManualClock`] for tests, which moves only when told to. Whatever the
//! base clock, the sandbox adds an adjustable offset on top of it, so the
//! admin API (`POST /_sandbox/clock`) can move time on any clock.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Beijing time's offset from UTC, in seconds (UTC+8, no daylight saving).
pub const BEIJING_OFFSET_SECS: i64 = 8 * 3600;

/// Beijing time as a fixed offset: no time zone database is needed.
const BEIJING: jiff::tz::Offset = jiff::tz::Offset::constant(8);

/// An instant, as milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `millis` milliseconds after the Unix epoch.
    pub const fn from_unix_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    /// The instant `secs` seconds after the Unix epoch.
    pub const fn from_unix_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(1000))
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch (rounded down).
    pub const fn unix_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// This instant moved by `millis` (negative moves back), saturating.
    #[must_use]
    pub const fn add_millis(self, millis: i64) -> Self {
        Timestamp(self.0.saturating_add(millis))
    }

    /// This instant moved by `secs` seconds, saturating.
    #[must_use]
    pub const fn add_secs(self, secs: i64) -> Self {
        self.add_millis(secs.saturating_mul(1000))
    }

    /// This instant as a jiff timestamp, to the second (clamped to jiff's
    /// range, years -9999 to 9999).
    fn to_jiff_secs(self) -> jiff::Timestamp {
        let clamped = self.unix_secs().clamp(
            jiff::Timestamp::MIN.as_second(),
            jiff::Timestamp::MAX.as_second(),
        );
        jiff::Timestamp::from_second(clamped).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    /// The Beijing date and time of this instant, to the second.
    fn beijing_datetime(self) -> jiff::civil::DateTime {
        BEIJING.to_datetime(self.to_jiff_secs())
    }

    /// The Beijing calendar date and time of day of this instant.
    pub fn beijing(self) -> CivilTime {
        let dt = self.beijing_datetime();
        CivilTime {
            year: i64::from(dt.year()),
            month: i64::from(dt.month()),
            day: i64::from(dt.day()),
            hour: i64::from(dt.hour()),
            minute: i64::from(dt.minute()),
            second: i64::from(dt.second()),
        }
    }

    /// The Beijing calendar date of this instant (the key of daily counters).
    pub fn beijing_date(self) -> BeijingDate {
        let c = self.beijing();
        BeijingDate {
            year: c.year,
            month: c.month,
            day: c.day,
        }
    }

    /// `yyyy-MM-dd HH:mm:ss` in Beijing time, the format of WeChat's replies.
    pub fn beijing_string(self) -> String {
        self.beijing_datetime()
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    /// RFC 3339 with the Beijing offset: `2024-02-10T20:00:00+08:00`.
    pub fn rfc3339_beijing(self) -> String {
        self.to_jiff_secs().display_with_offset(BEIJING).to_string()
    }

    /// `yyyyMMdd` of the Beijing date, as used inside WeChat's order ids.
    pub fn beijing_yyyymmdd(self) -> String {
        self.beijing_datetime().strftime("%Y%m%d").to_string()
    }

    /// Parses an RFC 3339 time with an explicit offset, such as
    /// `2024-02-10T20:00:00+08:00`, `2024-02-10 20:00:00+08:00` or
    /// `2024-02-10T12:00:00Z`, with jiff's parser (which also takes the
    /// RFC 9557 forms, e.g. a `[Asia/Shanghai]` suffix). Fractions of a second
    /// are kept to the millisecond; a time without an offset is refused.
    pub fn parse_rfc3339(text: &str) -> Result<Timestamp, TimeParseError> {
        let bad = || TimeParseError {
            input: text.chars().take(64).collect(),
        };
        let parsed: jiff::Timestamp = text.parse().map_err(|_| bad())?;
        Ok(Timestamp::from_unix_millis(parsed.as_millisecond()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339_beijing())
    }
}

/// A time string that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not an RFC 3339 time with an offset, such as 2024-02-10T20:00:00+08:00")]
pub struct TimeParseError {
    /// The input (at most 64 characters of it).
    pub input: String,
}

/// A calendar date in Beijing time: the key of every daily counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BeijingDate {
    /// Year, e.g. 2024.
    pub year: i64,
    /// Month, 1–12.
    pub month: i64,
    /// Day of the month, 1–31.
    pub day: i64,
}

/// Date and time of day in some local time (fields of [`Timestamp::beijing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CivilTime {
    /// Year.
    pub year: i64,
    /// Month, 1–12.
    pub month: i64,
    /// Day of the month, 1–31.
    pub day: i64,
    /// Hour, 0–23.
    pub hour: i64,
    /// Minute, 0–59.
    pub minute: i64,
    /// Second, 0–59.
    pub second: i64,
}

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp::from_unix_millis(millis)
    }
}

/// A clock that stands still until it is moved: for tests.
///
/// Cloning shares the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    millis: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            millis: Arc::new(AtomicI64::new(start.unix_millis())),
        }
    }

    /// A clock stopped at a fixed, ordinary working-day instant:
    /// 2024-02-10 10:00:00 Beijing time.
    pub fn at_default_start() -> Self {
        // 2024-02-10T02:00:00Z
        ManualClock::new(Timestamp::from_unix_secs(1_707_530_400))
    }

    /// Moves the clock forward by `secs` seconds (backwards if negative).
    pub fn advance_secs(&self, secs: i64) {
        self.millis
            .fetch_add(secs.saturating_mul(1000), Ordering::SeqCst);
    }

    /// Moves the clock forward by `millis` milliseconds.
    pub fn advance_millis(&self, millis: i64) {
        self.millis.fetch_add(millis, Ordering::SeqCst);
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: Timestamp) {
        self.millis.store(at.unix_millis(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.millis.load(Ordering::SeqCst))
    }
}

/// The clock the sandbox reads: a base [`Clock`] plus an offset that the
/// admin API and [`SandboxHandle`](crate::SandboxHandle) can move.
#[derive(Debug, Clone)]
pub struct SandboxClock {
    base: Arc<dyn Clock>,
    offset_millis: Arc<AtomicI64>,
}

impl SandboxClock {
    /// Wraps `base` with a zero offset.
    pub fn new(base: Arc<dyn Clock>) -> Self {
        SandboxClock {
            base,
            offset_millis: Arc::new(AtomicI64::new(0)),
        }
    }

    /// The sandbox's current time: the base clock plus the offset.
    pub fn now(&self) -> Timestamp {
        self.base
            .now()
            .add_millis(self.offset_millis.load(Ordering::SeqCst))
    }

    /// Moves the sandbox's time forward by `secs` (backwards if negative).
    pub fn advance_secs(&self, secs: i64) {
        self.offset_millis
            .fetch_add(secs.saturating_mul(1000), Ordering::SeqCst);
    }

    /// Makes the sandbox's current time `at` (the base clock keeps running).
    pub fn set(&self, at: Timestamp) {
        let offset = at
            .unix_millis()
            .saturating_sub(self.base.now().unix_millis());
        self.offset_millis.store(offset, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_beijing_time() {
        // 2024-02-10T02:00:00Z is 10:00 in Beijing.
        let t = Timestamp::from_unix_secs(1_707_530_400);
        assert_eq!(t.beijing_string(), "2024-02-10 10:00:00");
        assert_eq!(t.rfc3339_beijing(), "2024-02-10T10:00:00+08:00");
        assert_eq!(t.beijing_yyyymmdd(), "20240210");
        // 16:30 UTC is already the next day in Beijing.
        let late = Timestamp::from_unix_secs(1_707_582_600);
        assert_eq!(late.beijing_string(), "2024-02-11 00:30:00");
        assert_eq!(
            late.beijing_date(),
            BeijingDate {
                year: 2024,
                month: 2,
                day: 11
            }
        );
    }

    #[test]
    fn parses_rfc3339_round_trip() -> Result<(), TimeParseError> {
        let t = Timestamp::parse_rfc3339("2024-02-29T23:59:59+08:00")?;
        assert_eq!(t.rfc3339_beijing(), "2024-02-29T23:59:59+08:00");
        let z = Timestamp::parse_rfc3339("2024-02-29T15:59:59Z")?;
        assert_eq!(t, z);
        let spaced = Timestamp::parse_rfc3339("2024-02-29 23:59:59+08:00")?;
        assert_eq!(t, spaced);
        for bad in [
            "",
            "2024-02-30T00:00:00+08:00",
            "2023-02-29T00:00:00+08:00",
            "2024-02-10T24:00:00+08:00",
            "2024-02-10T10:00:00",
            "10:00:00+08:00",
            "２024-02-10T10:00:00+08:00",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad}");
        }
        // Fractions are kept to the millisecond.
        let fraction = Timestamp::parse_rfc3339("2024-02-29T23:59:59.5+08:00")?;
        assert_eq!(fraction, t.add_millis(500));
        Ok(())
    }

    #[test]
    fn beijing_dates_agree_with_proto_date_over_centuries() {
        // jiff (here) and proto's small Date (bill numbers) must name the
        // same Beijing day for every instant.
        for days in (-300_000..2_900_000_i64).step_by(997) {
            let secs = days * 86_400 + 12_345;
            let ours = Timestamp::from_unix_secs(secs).beijing_date();
            let proto = hongbao_proto::Date::beijing_from_unix_seconds(secs);
            assert_eq!(
                proto.map(|d| (i64::from(d.year), i64::from(d.month), i64::from(d.day))),
                Ok((ours.year, ours.month, ours.day)),
                "{secs}"
            );
        }
    }

    #[test]
    fn extreme_instants_clamp_to_jiffs_range() {
        assert!(
            Timestamp::from_unix_millis(i64::MAX)
                .beijing_string()
                .starts_with("9999-12-31")
        );
        assert_eq!(Timestamp::from_unix_millis(i64::MIN).beijing().year, -9999);
    }

    #[test]
    fn sandbox_clock_moves_on_any_base() {
        let manual = ManualClock::at_default_start();
        let clock = SandboxClock::new(Arc::new(manual.clone()));
        let start = clock.now();
        clock.advance_secs(60);
        assert_eq!(clock.now(), start.add_secs(60));
        manual.advance_secs(1);
        assert_eq!(clock.now(), start.add_secs(61));
        let target = start.add_secs(86_400);
        clock.set(target);
        assert_eq!(clock.now(), target);
    }
}
