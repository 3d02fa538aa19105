//! Unchanged facts and heartbeats: what lets the console record changes only.
//!
//! Sources repeat themselves (a gateway polled every 100 ms, a periodic refresh, a
//! reading that did not move). [`State::restates`] says whether an event would change
//! nothing but the state's bookkeeping (its time, event counts, "last seen" times); the
//! engine does not apply, record or broadcast such an event. It remembers instead that
//! the source spoke, and once a second sends a [`EventBody::Heartbeat`] for a source
//! that only repeated itself: the source's liveness is recorded, per source, never per
//! instance.
//!
//! A heartbeat also says that everything the source said still held then. So once a
//! source has sent one, the moment a subject of it was last seen healthy is at least
//! the source's previous event (`vouched_until`): an incident's start stays as close as
//! it was when every poll repeated the facts. Recordings made before heartbeats have
//! none, so they fold exactly as they did. A heartbeat also ends the flapping of
//! instances whose flapping window has passed, which repeated reports used to do.

use crate::event::{Event, EventBody};
use crate::model::{DbRole, SourceStatus};
use crate::time::Timestamp;

use super::{DbMemberView, FLAP_WINDOW_MILLIS, State};

impl State {
    /// Whether `ev` would change nothing but bookkeeping: the same fact again.
    ///
    /// Exact for the kinds it accepts, with one choice: a source's status said again
    /// without its detail (the sources' own heartbeats) keeps the detail it had.
    /// Readings that feed windows and plots (metric samples, breaker calls, reported
    /// breaker rates), log entries (notices, faults, intents) and heartbeats are never
    /// restatements. When in doubt it says no: applying an event is always exact.
    pub fn restates(&self, ev: &Event) -> bool {
        let source = self.sources.get(&ev.source);
        // Any event of a stale source brings it back.
        if source.is_some_and(|s| s.status == SourceStatus::Stale)
            && !matches!(ev.body, EventBody::SourceStatus { .. })
        {
            return false;
        }
        match &ev.body {
            EventBody::SourceStatus {
                source_kind,
                status,
                detail,
                drill,
            } => source.is_some_and(|s| {
                s.kind == *source_kind
                    && s.status == *status
                    && s.drill == *drill
                    && (s.detail == *detail || (*status == SourceStatus::Up && detail.is_none()))
            }),
            EventBody::Service { service, role } => {
                self.services.get(service).is_some_and(|s| s.role == *role)
            }
            EventBody::Edge { from, to } => self.edges.contains(&(from.clone(), to.clone())),
            EventBody::Route {
                route,
                gateway,
                service,
                breaker,
            } => self.routes.get(route).is_some_and(|r| {
                r.gateway == *gateway && r.service == *service && r.breaker == *breaker
            }),
            EventBody::Composed {
                service,
                composition,
                parts,
            } => {
                self.services.contains_key(service)
                    && parts.iter().all(|p| self.services.contains_key(p))
                    && self
                        .composites
                        .get(service)
                        .is_some_and(|c| c.composition == *composition && c.parts == *parts)
            }
            EventBody::Chose { service, choice } => {
                self.services.contains_key(service)
                    && self
                        .choices
                        .get(service)
                        .is_some_and(|c| c.choice == *choice)
            }
            EventBody::InstanceHealth {
                instance,
                service,
                health,
                detail,
            } => self.instances.get(instance).is_some_and(|i| {
                let member = i.service == *service || i.also.contains(service);
                let same = i.views.iter().any(|(src, h, d)| {
                    *src == ev.source && h == health && d.as_deref() == detail.as_deref()
                });
                // Folding it would end an expired flapping: that is a change.
                member && same && (!i.flapping || !Self::flapping_expired(i, ev.at))
            }),
            EventBody::InstanceRemoved { instance } => !self.instances.contains_key(instance),
            EventBody::Pool {
                service,
                size,
                in_use,
                queued,
            } => self.services.get(service).is_some_and(|s| {
                s.pool
                    .is_some_and(|p| (p.size, p.in_use, p.queued) == (*size, *in_use, *queued))
            }),
            EventBody::BreakerConfigured {
                breaker,
                service,
                config,
                inferred,
            } => {
                self.services.contains_key(service)
                    && self.breakers.get(breaker).is_some_and(|b| {
                        b.config == *config
                            && b.service.as_ref() == Some(service)
                            && b.inferred == *inferred
                    })
            }
            EventBody::ClusterMembers {
                cluster,
                cluster_kind,
                members,
            } => self.clusters.get(cluster).is_some_and(|c| {
                c.kind == *cluster_kind
                    && c.membership_known
                    && c.judged
                    && c.members.len() == members.len()
                    && members.iter().all(|m| {
                        c.members
                            .get(&m.member)
                            .is_some_and(|v| v.polled && v.voter == m.voter)
                    })
            }),
            EventBody::MemberStatus {
                cluster,
                cluster_kind,
                status,
            } => self.clusters.get(cluster).is_some_and(|c| {
                // Until the cluster is judged, a poll may be the one that completes it.
                c.kind == *cluster_kind
                    && c.judged
                    && c.members
                        .get(&status.member)
                        .is_some_and(|v| v.polled && v.status == *status)
            }),
            EventBody::DbMember {
                cluster, member, ..
            }
            | EventBody::PatroniMember {
                cluster, member, ..
            }
            | EventBody::PgServer {
                cluster, member, ..
            } => self
                .databases
                .get(cluster)
                .and_then(|db| db.members.get(member))
                .is_some_and(|view| {
                    let mut after = view.clone();
                    update_db_view(&mut after, &ev.body);
                    after == *view
                }),
            EventBody::DbClusterStatus {
                cluster,
                leader,
                sync_standbys,
                paused,
                scheduled_switchover,
                history,
            } => self.databases.get(cluster).is_some_and(|db| {
                db.dcs_leader == *leader
                    && db.sync_standbys == *sync_standbys
                    && db.paused == *paused
                    && db.scheduled_switchover == *scheduled_switchover
                    && db.history == *history
            }),
            EventBody::Replicas {
                service,
                desired,
                ready,
                available,
            } => self
                .services
                .get(service)
                .is_some_and(|s| s.replicas == Some((*desired, *ready, *available))),
            EventBody::NodeStatus {
                node,
                ready,
                cordoned,
            } => self.nodes.get(node) == Some(&(*ready, *cordoned)),
            EventBody::SourceTransport { transport } => {
                self.transports.get(&ev.source) == Some(transport)
            }
            EventBody::DnsRecord { record } => self
                .dns
                .get(&record.name)
                .is_some_and(|e| e.source == ev.source && e.record == *record),
            EventBody::Integrity { finding } => self
                .integrity
                .get(&finding.key())
                .is_some_and(|e| e.source == ev.source && e.finding == *finding),
            EventBody::Metric { .. }
            | EventBody::BreakerCalls { .. }
            | EventBody::BreakerReported { .. }
            | EventBody::Notice { .. }
            | EventBody::FaultInjected { .. }
            | EventBody::Intent { .. }
            | EventBody::Heartbeat => false,
        }
    }

    /// A heartbeat: the source vouches for what it said, and flapping whose window
    /// has passed ends.
    pub(super) fn heartbeat(&mut self, ev: &Event) {
        if !self.vouched.contains(&ev.source) {
            self.vouched.insert(ev.source.clone());
        }
        let ended: Vec<_> = self
            .flapping
            .iter()
            .filter(|id| {
                self.instances
                    .get(*id)
                    .is_none_or(|i| Self::flapping_expired(i, ev.at))
            })
            .cloned()
            .collect();
        for id in ended {
            self.flapping.remove(&id);
            if let Some(i) = self.instances.get_mut(&id) {
                i.flapping = false;
            }
        }
    }

    /// When the source of `ev`, once it sends heartbeats, last vouched for what it said:
    /// its previous event (`None` for a source that never sent a heartbeat).
    pub(super) fn vouched_until(&self, ev: &Event) -> Option<Timestamp> {
        if !self.vouched.contains(&ev.source) {
            return None;
        }
        self.sources.get(&ev.source).map(|s| s.last_event_at)
    }

    /// Whether the flapping of `i` would end at `at` (its oldest recent transition is
    /// out of the window).
    fn flapping_expired(i: &super::Instance, at: Timestamp) -> bool {
        let oldest = i.transitions[usize::from(i.next_transition)];
        oldest.0 == 0 || at.millis_since(oldest) > FLAP_WINDOW_MILLIS
    }

    /// The flapping index, rebuilt from the instances (a state read from a snapshot).
    pub(super) fn reindex_flapping(&mut self) {
        self.flapping = self
            .instances
            .iter()
            .filter(|(_, i)| i.flapping)
            .map(|(id, _)| id.clone())
            .collect();
    }
}

/// What a database member event sets in the member's view (everything but the time
/// it was seen, which is bookkeeping).
pub(super) fn update_db_view(view: &mut DbMemberView, body: &EventBody) {
    match body {
        EventBody::DbMember {
            role,
            reachable,
            lag_bytes,
            connections,
            max_connections,
            ..
        } => {
            view.role = *role;
            view.reachable = *reachable;
            view.lag_bytes = *lag_bytes;
            view.connections = *connections;
            view.max_connections = *max_connections;
        }
        EventBody::PatroniMember {
            reachable,
            role,
            state,
            timeline,
            lag_bytes,
            pending_restart,
            detail,
            ..
        } => {
            // Connection counts come from PostgreSQL itself; kept as they are.
            view.role = *role;
            view.reachable = *reachable;
            view.lag_bytes = *lag_bytes;
            view.state.clone_from(state);
            view.timeline = *timeline;
            view.pending_restart = *pending_restart;
            view.detail.clone_from(detail);
        }
        EventBody::PgServer {
            reachable,
            in_recovery,
            sessions,
            detail,
            ..
        } => {
            view.writable = if *reachable {
                in_recovery.map(|r| !r)
            } else {
                None
            };
            if let Some(s) = sessions {
                view.connections = s.connections;
                view.max_connections = s.max_connections;
            }
            view.sessions.clone_from(sessions);
            view.server_detail.clone_from(detail);
            if view.state.is_none() {
                // Known only from the server: it answers or it does not.
                view.reachable = *reachable;
                view.role = match in_recovery {
                    Some(false) => DbRole::Primary,
                    Some(true) => DbRole::Replica,
                    None => DbRole::Unknown,
                };
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::PgSessions;
    use crate::model::{
        ClusterId, Health, InstanceId, MemberId, ServiceId, ServiceRole, SourceId, SourceKind,
    };
    use crate::sources::drill::simulate;

    /// `s` without what an unchanged fact may still move: times and counts.
    fn facts(s: &State) -> State {
        let mut s = s.clone();
        s.now = Timestamp(0);
        s.events_applied = 0;
        for src in s.sources.values_mut() {
            src.events = 0;
            src.last_event_at = Timestamp(0);
        }
        for i in s.instances.values_mut() {
            i.seen_at = Timestamp(0);
        }
        for svc in s.services.values_mut() {
            svc.healthy_at = None;
        }
        for c in s.clusters.values_mut() {
            c.healthy_at = None;
            for m in c.members.values_mut() {
                m.seen_at = Timestamp(0);
                m.reachable_at = None;
            }
        }
        for db in s.databases.values_mut() {
            db.healthy_at = None;
            for m in db.members.values_mut() {
                m.seen_at = Timestamp(0);
            }
        }
        s
    }

    /// Every event the state calls a restatement changes nothing but times and counts
    /// when folded: over a drill run with its faults, each event is offered again
    /// after it was applied, and again a second later.
    #[test]
    fn a_restatement_changes_no_fact() {
        let mut s = State::default();
        let mut restated = std::collections::BTreeMap::new();
        for ev in simulate(3, 200, 400) {
            s.apply(&ev);
            for later in [0, 1000] {
                let again =
                    Event::new(ev.at.plus_millis(later), ev.source.clone(), ev.body.clone());
                if s.restates(&again) {
                    let mut after = s.clone();
                    after.apply(&again);
                    assert_eq!(facts(&after), facts(&s), "{again:?}");
                    *restated.entry(ev.body.kind_name()).or_insert(0) += 1;
                }
            }
        }
        for kind in [
            "service",
            "instance_health",
            "member_status",
            "pool",
            "route",
            "pg_server",
        ] {
            assert!(
                restated.contains_key(kind),
                "{kind} never restated: {restated:?}"
            );
        }
        for kind in ["metric", "breaker_calls", "fault_injected"] {
            assert!(
                !restated.contains_key(kind),
                "{kind} restated: {restated:?}"
            );
        }
    }

    /// A composition or a choice said again is a restatement and folds to the same
    /// facts; other parts, or traffic gone elsewhere, are not.
    #[test]
    fn compositions_and_choices_said_again_restate() {
        use crate::model::{Choice, Composition};
        let composed = |ms, parts: [&str; 2]| {
            at(
                ms,
                "traefik",
                EventBody::Composed {
                    service: ServiceId::new("fo"),
                    composition: Composition::Failover,
                    parts: parts.iter().map(ServiceId::new).collect(),
                },
            )
        };
        let chose = |ms, to: &str, primary| {
            at(
                ms,
                "traefik",
                EventBody::Chose {
                    service: ServiceId::new("fo"),
                    choice: Choice {
                        chosen: Some(to.to_owned()),
                        primary,
                        detail: format!("{to} has a server up"),
                    },
                },
            )
        };
        let mut s = State::default();
        assert!(!s.restates(&composed(0, ["main", "spare"])));
        s.apply(&composed(0, ["main", "spare"]));
        s.apply(&chose(0, "main", true));
        let again = [composed(10, ["main", "spare"]), chose(10, "main", true)];
        let mut after = s.clone();
        for ev in &again {
            assert!(s.restates(ev), "{ev:?}");
            after.apply(ev);
        }
        assert_eq!(facts(&after), facts(&s));
        assert!(!s.restates(&composed(20, ["spare", "main"])));
        assert!(!s.restates(&chose(20, "spare", false)));
    }

    fn at(ms: i64, source: &str, body: EventBody) -> Event {
        Event::new(Timestamp(ms), SourceId::new(source), body)
    }

    fn up(ms: i64, source: &str, detail: Option<&str>) -> Event {
        at(
            ms,
            source,
            EventBody::SourceStatus {
                source_kind: SourceKind::Haproxy,
                status: SourceStatus::Up,
                detail: detail.map(str::to_owned),
                drill: false,
            },
        )
    }

    fn health(ms: i64, instance: &str, h: Health, detail: &str) -> Event {
        at(
            ms,
            "lb",
            EventBody::InstanceHealth {
                instance: InstanceId::new(instance),
                service: ServiceId::new("web"),
                health: h,
                detail: Some(detail.to_owned()),
            },
        )
    }

    #[test]
    fn what_changes_is_not_a_restatement() {
        let mut s = State::default();
        s.apply(&up(0, "lb", Some("2 servers")));
        s.apply(&health(0, "a", Health::Healthy, "UP · check L7OK 200"));
        assert!(s.restates(&health(10, "a", Health::Healthy, "UP · check L7OK 200")));
        assert!(!s.restates(&health(
            10,
            "a",
            Health::Healthy,
            "UP · check L7OK 200 · weight 2"
        )));
        assert!(!s.restates(&health(10, "a", Health::Unhealthy, "UP · check L7OK 200")));
        assert!(!s.restates(&health(10, "b", Health::Healthy, "UP · check L7OK 200")));
        // The same instance seen by another source is that source's view: a change.
        let mut other = health(10, "a", Health::Healthy, "UP · check L7OK 200");
        other.source = SourceId::new("lb2");
        assert!(!s.restates(&other));
        // A source's own heartbeat (up, no detail) and its status again restate; a
        // new detail or a new status does not.
        assert!(s.restates(&up(10, "lb", None)));
        assert!(s.restates(&up(10, "lb", Some("2 servers"))));
        assert!(!s.restates(&up(10, "lb", Some("3 servers"))));
        // A stale source's events bring it back: never a restatement.
        s.apply(&at(
            20,
            "engine",
            EventBody::Service {
                service: ServiceId::new("x"),
                role: ServiceRole::Service,
            },
        ));
        s.sources.get_mut("lb").expect("lb").status = SourceStatus::Stale;
        assert!(!s.restates(&health(30, "a", Health::Healthy, "UP · check L7OK 200")));
        // Readings move windows and plots.
        let sessions = |n| {
            at(
                40,
                "pg",
                EventBody::PgServer {
                    cluster: ClusterId::new("db"),
                    member: MemberId::new("pg1"),
                    reachable: true,
                    in_recovery: Some(false),
                    sessions: Some(PgSessions {
                        connections: n,
                        max_connections: 100,
                        ..PgSessions::default()
                    }),
                    detail: None,
                },
            )
        };
        s.apply(&sessions(5));
        assert!(s.restates(&sessions(5)));
        assert!(!s.restates(&sessions(6)));
    }

    /// Once a source sends heartbeats, a subject of it that turns unhealthy was last
    /// seen healthy at the source's previous event (not at the last change, which may
    /// be an hour old), so the incident's start and MTTD stay honest; a source that
    /// never sent one keeps the old rule.
    #[test]
    fn a_heartbeat_vouches_for_what_the_source_said() {
        let fold = |beats: bool| {
            let mut s = State::default();
            s.apply(&up(0, "lb", Some("2 servers")));
            s.apply(&health(0, "a", Health::Healthy, "UP"));
            if beats {
                for t in 1..=3600 {
                    s.apply(&at(t * 1000, "lb", EventBody::Heartbeat));
                }
            }
            s.apply(&health(3_600_500, "a", Health::Unhealthy, "DOWN"));
            s.incidents.incidents[0].started_at
        };
        assert_eq!(fold(true), Timestamp(3_600_000));
        assert_eq!(fold(false), Timestamp(0));
    }

    /// Flapping ends at the first heartbeat after its window, with no report of the
    /// instance; the flag survives a snapshot and is found again from it.
    #[test]
    fn a_heartbeat_ends_flapping_whose_window_passed() {
        let mut s = State::default();
        s.apply(&up(0, "lb", None));
        for (i, t) in [0, 5, 10, 15, 20].iter().enumerate() {
            let h = if i % 2 == 0 {
                Health::Healthy
            } else {
                Health::Unhealthy
            };
            s.apply(&health(t * 1000, "a", h, "x"));
        }
        assert!(s.instances["a"].flapping);
        let back = State::from_snapshot(&s.to_snapshot()).expect("snapshot");
        assert_eq!(back, s);
        s.apply(&at(30_000, "lb", EventBody::Heartbeat));
        assert!(s.instances["a"].flapping, "still within the window");
        s.apply(&at(80_000, "lb", EventBody::Heartbeat));
        assert!(!s.instances["a"].flapping);
        assert!(s.flapping.is_empty());
        let back = State::from_snapshot(&s.to_snapshot()).expect("snapshot");
        assert_eq!(back, s);
        assert_eq!(back.digest(), s.digest());
        assert!(back.vouched.contains("lb"));
    }
}
