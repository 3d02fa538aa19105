//! Timestamps and the clock.
//!
//! Every event carries a [`Timestamp`]: milliseconds since the Unix epoch, UTC. The
//! reducer never reads a clock; only sources and the engine do, through [`Clock`], so
//! tests and the drill can run on a clock of their own.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch (UTC).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The timestamp `millis` milliseconds after this one (negative goes back).
    #[must_use]
    pub const fn plus_millis(self, millis: i64) -> Self {
        Self(self.0.saturating_add(millis))
    }

    /// Milliseconds from `earlier` to `self`; negative if `earlier` is later.
    pub const fn millis_since(self, earlier: Self) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Seconds from `earlier` to `self`, as a float.
    pub fn secs_since(self, earlier: Self) -> f64 {
        self.millis_since(earlier) as f64 / 1000.0
    }

    /// Converts a system time; times before 1970 clamp to the epoch.
    pub fn from_system(t: SystemTime) -> Self {
        let millis = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        Self(i64::try_from(millis).unwrap_or(i64::MAX))
    }

    /// This timestamp as a system time; negative timestamps clamp to the epoch.
    pub fn to_system(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(u64::try_from(self.0).unwrap_or(0))
    }

    /// The last moment RFC 3339 can write (`9999-12-31T23:59:59.999Z`).
    pub const LATEST_WRITABLE: Self = Self(253_402_300_799_999);

    /// RFC 3339 with milliseconds, UTC (`2026-11-23T12:00:00.123Z`). A time past the
    /// year 9999 (only a damaged file holds one) is written as
    /// [`Timestamp::LATEST_WRITABLE`]: RFC 3339 has four digits for the year.
    pub fn to_rfc3339(self) -> String {
        humantime::format_rfc3339_millis(self.min(Self::LATEST_WRITABLE).to_system()).to_string()
    }

    /// RFC 3339 made safe for a file name on every platform (`2026-11-23T12-00-00-123Z`).
    pub fn file_stamp(self) -> String {
        self.to_rfc3339().replace([':', '.'], "-")
    }

    /// Parses RFC 3339 (`2026-11-23T12:00:00Z`, fractions allowed).
    pub fn parse_rfc3339(text: &str) -> Result<Self, humantime::TimestampError> {
        humantime::parse_rfc3339_weak(text).map(Self::from_system)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// A source of the current time. Sources and the engine stamp events with it.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_system(SystemTime::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_past_the_year_9999_is_written_as_the_last_writable_one() {
        // Found by fuzzing the notes store: a damaged `started_at` of 999999999999999999
        // made the postmortem's formatting panic.
        let far = Timestamp(999_999_999_999_999_999);
        assert_eq!(far.to_rfc3339(), "9999-12-31T23:59:59.999Z");
        assert_eq!(far.to_string(), "9999-12-31T23:59:59.999Z");
        assert_eq!(Timestamp(i64::MAX).file_stamp(), "9999-12-31T23-59-59-999Z");
        assert_eq!(
            Timestamp::LATEST_WRITABLE.to_rfc3339(),
            "9999-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn rfc3339_round_trip() {
        let t = Timestamp(1_795_000_000_123);
        let text = t.to_rfc3339();
        assert_eq!(text, "2026-11-18T11:06:40.123Z");
        assert_eq!(Timestamp::parse_rfc3339(&text).ok(), Some(t));
    }

    #[test]
    fn arithmetic() {
        let t = Timestamp(10_000);
        assert_eq!(t.plus_millis(500).millis_since(t), 500);
        assert!((t.plus_millis(1500).secs_since(t) - 1.5).abs() < 1e-9);
    }
}
