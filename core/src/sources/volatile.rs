//! Volatile numbers: what moves at nearly every poll without changing what an operator
//! acts on (a raft index, a replica's lag by a few kilobytes, a session count by one,
//! a health check's latency). Recorded at every poll they would be most of a
//! recording; dropped, the console would show them frozen.
//!
//! So a reading that differs from the last one sent only by such numbers, within a
//! tolerance ([`close`]), is held back; it goes out when it moves past the tolerance,
//! or once [`FLOOR`] has passed since the last one sent, so a plot keeps a point every
//! half minute and a table shows a number at most that old. [`Settle`] keeps what was
//! sent per subject. The tolerances:
//!
//! - a consensus member's raft index and database size: any (they tick with every
//!   write; term, leader, reachability and alarms are facts, never held);
//! - a replica's lag: the same class (none; up to 192 KiB; then every fourfold);
//! - a server's sessions: idle-in-transaction and waiting counts exact (a leak's
//!   signature), total, active and idle within 5 % of `max_connections` (at least 2),
//!   the oldest transaction's age within the same class (none, under a minute, under
//!   five, more);
//! - a pool's slots in use within 5 % of its size (at least 2), never across 90 %
//!   (where a service turns degraded), queued exact when zero;
//! - a metric sample within 25 % of the last (at least 2 ms, one point of a ratio,
//!   or 1); past it, still no more than one sample per series every [`METRIC_GAP`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::event::{EventBody, MemberStatus, PgSessions};
use crate::model::MetricUnit;

/// A held reading goes out at least this often.
pub const FLOOR: Duration = Duration::from_secs(30);
/// A metric sample that moved past its tolerance goes out no more often than this: a
/// latency that swings at every check is still one point per series every 5 s.
pub const METRIC_GAP: Duration = Duration::from_secs(5);

/// Whether `next` says what `prev` said, up to volatile numbers that moved within
/// their tolerance. Kinds without volatile numbers are close only when equal.
pub fn close(prev: &EventBody, next: &EventBody) -> bool {
    use EventBody as E;
    match (prev, next) {
        (
            E::MemberStatus {
                cluster: c1,
                cluster_kind: k1,
                status: a,
            },
            E::MemberStatus {
                cluster: c2,
                cluster_kind: k2,
                status: b,
            },
        ) => {
            let settled = |s: &MemberStatus| MemberStatus {
                index: 0,
                db_size_bytes: s.db_size_bytes.map(|_| 0),
                ..s.clone()
            };
            c1 == c2 && k1 == k2 && settled(a) == settled(b)
        }
        (
            E::PatroniMember {
                lag_bytes: la,
                cluster,
                member,
                reachable,
                role,
                state,
                timeline,
                pending_restart,
                detail,
            },
            E::PatroniMember { lag_bytes: lb, .. },
        ) => {
            lag_class(*la) == lag_class(*lb)
                && *next
                    == E::PatroniMember {
                        lag_bytes: *lb,
                        cluster: cluster.clone(),
                        member: member.clone(),
                        reachable: *reachable,
                        role: *role,
                        state: state.clone(),
                        timeline: *timeline,
                        pending_restart: *pending_restart,
                        detail: detail.clone(),
                    }
        }
        (
            E::DbMember {
                cluster,
                member,
                role,
                reachable,
                lag_bytes: la,
                connections: ca,
                max_connections,
            },
            E::DbMember {
                lag_bytes: lb,
                connections: cb,
                ..
            },
        ) => {
            lag_class(*la) == lag_class(*lb)
                && near(*ca, *cb, *max_connections)
                && *next
                    == E::DbMember {
                        cluster: cluster.clone(),
                        member: member.clone(),
                        role: *role,
                        reachable: *reachable,
                        lag_bytes: *lb,
                        connections: *cb,
                        max_connections: *max_connections,
                    }
        }
        (
            E::PgServer {
                cluster,
                member,
                reachable,
                in_recovery,
                sessions: sa,
                detail,
            },
            E::PgServer { sessions: sb, .. },
        ) => {
            sessions_close(sa.as_ref(), sb.as_ref())
                && *next
                    == E::PgServer {
                        cluster: cluster.clone(),
                        member: member.clone(),
                        reachable: *reachable,
                        in_recovery: *in_recovery,
                        sessions: sb.clone(),
                        detail: detail.clone(),
                    }
        }
        (
            E::Pool {
                service: s1,
                size: z1,
                in_use: u1,
                queued: q1,
            },
            E::Pool {
                service: s2,
                size: z2,
                in_use: u2,
                queued: q2,
            },
        ) => {
            let saturated = |u: u32| u64::from(u) * 10 >= u64::from(*z1) * 9;
            s1 == s2
                && z1 == z2
                && near(*u1, *u2, *z1)
                && saturated(*u1) == saturated(*u2)
                && (*q1 == 0) == (*q2 == 0)
                && near(*q1, *q2, *z1)
        }
        (
            E::Metric {
                service: s1,
                series: n1,
                value: v1,
                unit: u1,
            },
            E::Metric {
                service: s2,
                series: n2,
                value: v2,
                unit: u2,
            },
        ) => s1 == s2 && n1 == n2 && u1 == u2 && value_close(*v1, *v2, *u1),
        _ => prev == next,
    }
}

/// A replica's lag by class: none, up to 192 KiB, then every fourfold.
fn lag_class(lag: Option<u64>) -> Option<u32> {
    lag.map(|n| {
        if n == 0 {
            0
        } else {
            1 + (1 + n / 65_536).ilog2() / 2
        }
    })
}

/// Within 5 % of `of` (at least 2) of each other.
fn near(a: u32, b: u32, of: u32) -> bool {
    a.abs_diff(b) < (of / 20).max(2)
}

/// The oldest transaction's age by class: none, under a minute, under five, more.
fn age_class(secs: Option<f64>) -> u8 {
    match secs {
        None => 0,
        Some(s) if s < 60.0 => 1,
        Some(s) if s < 300.0 => 2,
        Some(_) => 3,
    }
}

fn sessions_close(a: Option<&PgSessions>, b: Option<&PgSessions>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            let of = a.max_connections;
            a.max_connections == b.max_connections
                && a.idle_in_transaction == b.idle_in_transaction
                && a.waiting == b.waiting
                && near(a.connections, b.connections, of)
                && near(a.active, b.active, of)
                && near(a.idle, b.idle, of)
                && age_class(a.oldest_xact_secs) == age_class(b.oldest_xact_secs)
        }
        _ => false,
    }
}

fn value_close(a: f64, b: f64, unit: MetricUnit) -> bool {
    if !a.is_finite() || !b.is_finite() {
        return a.to_bits() == b.to_bits();
    }
    let floor: f64 = match unit {
        MetricUnit::Seconds => 0.002,
        MetricUnit::Ratio => 0.01,
        MetricUnit::Count => 1.0,
    };
    (a - b).abs() < floor.max(0.25 * a.abs().max(b.abs()))
}

/// The subject a reading is about: its kind and subjects, and a metric's series (a
/// service has several).
fn key(ev: &EventBody) -> String {
    let mut key = format!("{}|{}", ev.kind_name(), ev.subjects().join("|"));
    if let EventBody::Metric { series, .. } = ev {
        key.push('|');
        key.push_str(series);
    }
    key
}

/// What a source last sent per subject, to hold back readings that moved little.
#[derive(Default)]
pub struct Settle {
    sent: HashMap<String, (EventBody, Instant)>,
}

impl Settle {
    /// Whether to send `ev` now (and it is remembered as sent): it is new, it moved
    /// past its tolerance, or [`FLOOR`] passed since its subject was last sent. A
    /// reading equal to the last one is sent again after [`FLOOR`] only when `repeat`
    /// (a plot's point; a state event said again would say nothing).
    pub fn pass(&mut self, ev: &EventBody, repeat: bool) -> bool {
        self.pass_at(ev, repeat, Instant::now())
    }

    /// [`Settle::pass`] at `now`.
    pub fn pass_at(&mut self, ev: &EventBody, repeat: bool, now: Instant) -> bool {
        let key = key(ev);
        if let Some((prev, at)) = self.sent.get(&key) {
            let since = now.saturating_duration_since(*at);
            let old = since >= FLOOR;
            let hold = if prev == ev {
                !(repeat && old)
            } else if matches!(ev, EventBody::Metric { .. }) && since < METRIC_GAP {
                true
            } else {
                close(prev, ev) && !old
            };
            if hold {
                return false;
            }
        }
        self.sent.insert(key, (ev.clone(), now));
        true
    }

    /// Remembers `ev` as sent now, whatever [`Settle::pass`] said (a full refresh).
    pub fn remember(&mut self, ev: &EventBody) {
        self.sent.insert(key(ev), (ev.clone(), Instant::now()));
    }

    /// Forgets what was sent (the source failed: everything goes out again).
    pub fn clear(&mut self) {
        self.sent.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClusterId, ClusterKind, MemberId, ServiceId};

    fn member(index: u64, term: u64) -> EventBody {
        EventBody::MemberStatus {
            cluster: ClusterId::new("etcd"),
            cluster_kind: ClusterKind::Etcd,
            status: MemberStatus {
                member: MemberId::new("m1"),
                reachable: true,
                voter: true,
                term,
                index,
                db_size_bytes: Some(1000 + index),
                ..MemberStatus::default()
            },
        }
    }

    fn metric(value: f64) -> EventBody {
        EventBody::Metric {
            service: ServiceId::new("web"),
            series: "check latency max".into(),
            value,
            unit: MetricUnit::Seconds,
        }
    }

    fn sessions(connections: u32, idle_in_transaction: u32, oldest: Option<f64>) -> EventBody {
        EventBody::PgServer {
            cluster: ClusterId::new("db"),
            member: MemberId::new("pg1"),
            reachable: true,
            in_recovery: Some(false),
            sessions: Some(PgSessions {
                connections,
                max_connections: 100,
                active: 2,
                idle: connections.saturating_sub(2),
                idle_in_transaction,
                waiting: 0,
                oldest_xact_secs: oldest,
            }),
            detail: None,
        }
    }

    #[test]
    fn volatile_numbers_are_close_and_facts_are_not() {
        assert!(close(&member(100, 2), &member(5000, 2)));
        assert!(
            !close(&member(100, 2), &member(100, 3)),
            "a new term is a fact"
        );
        assert!(close(&metric(0.010), &metric(0.011)));
        assert!(close(&metric(0.100), &metric(0.120)));
        assert!(!close(&metric(0.100), &metric(0.200)));
        assert!(close(
            &sessions(10, 0, Some(3.0)),
            &sessions(11, 0, Some(40.0))
        ));
        assert!(
            !close(&sessions(10, 0, None), &sessions(10, 1, None)),
            "a leak's signature"
        );
        assert!(!close(
            &sessions(10, 0, Some(3.0)),
            &sessions(10, 0, Some(400.0))
        ));
        assert!(!close(&sessions(10, 0, None), &sessions(20, 0, None)));
        let lag = |l| EventBody::PatroniMember {
            cluster: ClusterId::new("db"),
            member: MemberId::new("pg2"),
            reachable: true,
            role: crate::model::DbRole::Replica,
            state: Some("streaming".into()),
            timeline: Some(3),
            lag_bytes: l,
            pending_restart: false,
            detail: None,
        };
        assert!(close(&lag(Some(100)), &lag(Some(4000))));
        assert!(!close(&lag(Some(0)), &lag(Some(4000))));
        assert!(!close(&lag(Some(4000)), &lag(Some(50 << 20))));
        let pool = |in_use, queued| EventBody::Pool {
            service: ServiceId::new("checkout"),
            size: 50,
            in_use,
            queued,
        };
        assert!(close(&pool(12, 0), &pool(13, 0)));
        assert!(!close(&pool(44, 0), &pool(45, 0)), "across 90 %");
        assert!(!close(&pool(50, 0), &pool(50, 1)), "queueing starts");
    }

    #[test]
    fn held_readings_go_out_at_the_floor() {
        let mut s = Settle::default();
        let t0 = Instant::now();
        let later = t0 + FLOOR;
        assert!(s.pass_at(&member(1, 2), false, t0), "the first is sent");
        assert!(!s.pass_at(&member(2, 2), false, t0), "held");
        assert!(
            s.pass_at(&member(3, 3), false, t0),
            "a fact goes out at once"
        );
        assert!(s.pass_at(&member(9, 3), false, later), "the floor");
        assert!(
            !s.pass_at(&member(9, 3), false, later + FLOOR),
            "the same is never said again"
        );
        assert!(s.pass_at(&metric(0.010), true, t0));
        assert!(!s.pass_at(&metric(0.010), true, t0));
        let other = EventBody::Metric {
            service: ServiceId::new("web"),
            series: "check latency p50".into(),
            value: 0.5,
            unit: MetricUnit::Seconds,
        };
        assert!(s.pass_at(&other, true, t0), "another series of the service");
        assert!(
            !s.pass_at(&metric(0.010), true, t0),
            "each series held on its own"
        );
        assert!(
            !s.pass_at(&metric(0.500), true, t0),
            "a swing, within the gap"
        );
        assert!(s.pass_at(&metric(0.500), true, t0 + METRIC_GAP), "past it");
        assert!(
            s.pass_at(&metric(0.010), true, later),
            "a plot's point, every half minute"
        );
        s.clear();
        assert!(
            s.pass_at(&member(9, 3), false, later),
            "after a failure, everything again"
        );
    }
}
