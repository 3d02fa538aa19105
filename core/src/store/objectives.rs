//! What an incident is measured against (domain.md §10), configured per environment
//! and copied onto each incident when it opens, so a later change of the configuration
//! does not rewrite the history:
//!
//! - **RTO**, the longest tolerable downtime: the incident page counts down to it.
//! - **RPO**, the most data (as its age) that may be lost: shown as the target.
//! - **Downtime cost**, an estimate: (MTTD + MTTR) × transaction rate × average
//!   transaction value. MTTD + MTTR is the time from the start to the resolution (or to
//!   now, while the incident is open).

use serde::Serialize;

use super::IncidentRow;
use crate::time::Timestamp;

pub use crate::config::Objectives;

/// The downtime cost of an incident, an estimate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CostEstimate {
    /// MTTD + MTTR (start to resolution, or to now), in seconds.
    pub downtime_secs: f64,
    /// Transactions per second.
    pub tx_per_sec: f64,
    /// Average value of one.
    pub tx_value: f64,
    /// Currency.
    pub currency: String,
    /// downtime × rate × value.
    pub amount: f64,
    /// Always true: the figures are configured guesses, not measurements.
    pub estimate: bool,
}

impl CostEstimate {
    /// "≈ $31,500,000 (estimate: 1680 s × 250 tx/s × $75)".
    pub fn describe(&self) -> String {
        format!(
            "≈ {} (estimate: {:.0} s × {} tx/s × {})",
            money(&self.currency, self.amount),
            self.downtime_secs,
            trim(self.tx_per_sec),
            money(&self.currency, self.tx_value)
        )
    }
}

/// Where an incident stands against its RTO.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "secs", rename_all = "snake_case")]
pub enum RtoStatus {
    /// Open, with this many seconds left before the RTO is missed.
    Left(i64),
    /// Open and past the RTO by this many seconds.
    Overdue(i64),
    /// Resolved within the RTO, with this many seconds to spare.
    Met(i64),
    /// Resolved this many seconds after the RTO.
    Missed(i64),
}

impl RtoStatus {
    /// In words.
    pub fn describe(&self) -> String {
        match self {
            Self::Left(s) => format!("{} left", clock(*s)),
            Self::Overdue(s) => format!("missed, {} over", clock(*s)),
            Self::Met(s) => format!("met with {} to spare", clock(*s)),
            Self::Missed(s) => format!("missed by {}", clock(*s)),
        }
    }

    /// Whether the RTO is (or was) missed.
    pub const fn missed(&self) -> bool {
        matches!(self, Self::Overdue(_) | Self::Missed(_))
    }
}

/// `mm:ss`, or `h:mm:ss` from an hour.
pub fn clock(secs: i64) -> String {
    let s = secs.max(0);
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

fn trim(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// `$31,500,000`: whole units with thousands separators (cents below 100).
pub fn money(currency: &str, amount: f64) -> String {
    if amount.abs() < 100.0 {
        return format!("{currency}{amount:.2}");
    }
    let whole = format!("{:.0}", amount.abs());
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}{currency}{grouped}", if amount < 0.0 { "-" } else { "" })
}

impl IncidentRow {
    /// MTTD + MTTR: from the start to the resolution, or to `now` while not resolved,
    /// in milliseconds.
    pub fn downtime_millis(&self, now: Timestamp) -> i64 {
        self.resolved_at
            .unwrap_or(now)
            .millis_since(self.started_at)
            .max(0)
    }

    /// The downtime cost as of `now`, when the environment gives a rate and a value.
    pub fn cost(&self, now: Timestamp) -> Option<CostEstimate> {
        let o = &self.objectives;
        let (rate, value) = (o.tx_per_sec?, o.tx_value?);
        let downtime_secs = self.downtime_millis(now) as f64 / 1000.0;
        Some(CostEstimate {
            downtime_secs,
            tx_per_sec: rate,
            tx_value: value,
            currency: o.currency.clone().unwrap_or_else(|| "$".into()),
            amount: downtime_secs * rate * value,
            estimate: true,
        })
    }

    /// Where the incident stands against its RTO as of `now`, when one is set.
    pub fn rto(&self, now: Timestamp) -> Option<RtoStatus> {
        let rto = i64::try_from(self.objectives.rto_secs?).ok()?;
        let used = self.downtime_millis(now) / 1000;
        Some(match (self.resolved_at.is_some(), used <= rto) {
            (false, true) => RtoStatus::Left(rto - used),
            (false, false) => RtoStatus::Overdue(used - rto),
            (true, true) => RtoStatus::Met(rto - used),
            (true, false) => RtoStatus::Missed(used - rto),
        })
    }
}
