//! Services made of other services, and where the ones that choose send their traffic.
//!
//! A gateway's route names one service, but that service may be a weighted split, a
//! failover or a mirroring of other services, nested to any depth (Traefik), or an
//! aggregate of clusters (Envoy). The servers that take the route's traffic are those of
//! the services at the bottom, the leaves: [`State::reach`] walks the composition down
//! to them, each service once, so a cycle (which a gateway refuses to run anyway) ends
//! the walk instead of looping. The route's backends (`status`, the Backends panel), the
//! topology's counts and the guards read it.
//!
//! A service that chooses (a failover, an aggregate, an HAProxy backend with backup
//! servers, an Envoy cluster with priority levels) says where its traffic goes now. The
//! state keeps that with the time it last changed, and logs a move off the first choice
//! (a warning), to nothing at all (critical) and back to the first choice (good).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{HealthCounts, Severity, State};
use crate::event::Event;
use crate::model::{Choice, Composition, Health, ServiceId};
use crate::time::Timestamp;

/// A service made of other services.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Composite {
    /// How it spreads its traffic.
    pub composition: Composition,
    /// Its parts, in the gateway's order (a failover's main first).
    pub parts: Vec<ServiceId>,
}

/// Where a service sends its traffic now, and since when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chosen {
    /// The choice, as its source said it.
    pub choice: Choice,
    /// When it last changed.
    pub since: Timestamp,
}

/// Everything a service sends traffic to through compositions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reach {
    /// Every service on the way, the start first, then depth first in the parts' order;
    /// each once.
    pub services: Vec<ServiceId>,
    /// The services among them that are not composed: the ones with servers.
    pub leaves: Vec<ServiceId>,
    /// The walk met a service it had already passed through on its way down: the
    /// composition is a cycle there, which no gateway runs.
    pub cycle: bool,
}

impl State {
    pub(super) fn composed(
        &mut self,
        service: &ServiceId,
        composition: Composition,
        parts: &[ServiceId],
    ) {
        self.ensure_service(service);
        for p in parts {
            self.ensure_service(p);
        }
        let c = Composite {
            composition,
            parts: parts.to_vec(),
        };
        if self.composites.get(service) != Some(&c) {
            self.composites.insert(service.clone(), c);
            self.topology_version += 1;
        }
    }

    pub(super) fn chose(&mut self, ev: &Event, service: &ServiceId, choice: &Choice) {
        self.ensure_service(service);
        let before = self.choices.get(service).map(|c| &c.choice);
        if before == Some(choice) {
            return;
        }
        let first_seen = before.is_none();
        let was_primary = before.is_none_or(|b| b.primary);
        let said = match &choice.chosen {
            None => Some((
                Severity::Critical,
                format!("nothing takes the traffic: {}", choice.detail),
            )),
            Some(c) if !choice.primary => Some((
                Severity::Warn,
                format!(
                    "traffic goes to {c}, not the first choice: {}",
                    choice.detail
                ),
            )),
            Some(c) if !first_seen && !was_primary => {
                Some((Severity::Good, format!("traffic back on {c}")))
            }
            // The first choice, first seen or still: routine.
            Some(_) => None,
        };
        if let Some((severity, message)) = said {
            self.log(ev, severity, service.as_str(), message);
        }
        self.choices.insert(
            service.clone(),
            Chosen {
                choice: choice.clone(),
                since: ev.at,
            },
        );
    }

    /// What `service` sends traffic to through compositions: itself, the services it is
    /// made of (nested to any depth) and the leaves among them.
    pub fn reach(&self, service: &ServiceId) -> Reach {
        let mut out = Reach::default();
        let mut seen = BTreeSet::new();
        // Depth first, parts in order; the path holds the services being walked, so a
        // service met again on it is a cycle, and one met again elsewhere a diamond.
        let mut stack: Vec<(ServiceId, usize)> = vec![(service.clone(), 0)];
        let mut path: Vec<ServiceId> = Vec::new();
        while let Some((s, depth)) = stack.pop() {
            path.truncate(depth);
            if path.contains(&s) {
                out.cycle = true;
                continue;
            }
            if !seen.insert(s.clone()) {
                continue;
            }
            out.services.push(s.clone());
            match self.composites.get(&s) {
                Some(c) => {
                    path.push(s);
                    for p in c.parts.iter().rev() {
                        stack.push((p.clone(), depth + 1));
                    }
                }
                None => out.leaves.push(s),
            }
        }
        out
    }

    /// The services behind gateway routes, each with the gateways routing to it: a
    /// route's own service and every service it reaches through compositions.
    pub fn routed_services(&self) -> BTreeMap<ServiceId, Vec<ServiceId>> {
        let mut out: BTreeMap<ServiceId, Vec<ServiceId>> = BTreeMap::new();
        let mut add = |s: ServiceId, gateway: &ServiceId| {
            let g = out.entry(s).or_default();
            if !g.contains(gateway) {
                g.push(gateway.clone());
            }
        };
        for r in self.routes.values() {
            // Most routes name a plain service: no walk (the window asks every frame).
            if self.composites.contains_key(&r.service) {
                for s in self.reach(&r.service).services {
                    add(s, &r.gateway);
                }
            } else {
                add(r.service.clone(), &r.gateway);
            }
        }
        out
    }

    /// The instance counts behind `service`: its own for a plain service, its leaves'
    /// for a composed one (an instance in two leaves counts in each: the gateway holds
    /// it in two pools).
    pub fn reach_counts(&self, service: &ServiceId) -> HealthCounts {
        let mut c = HealthCounts::default();
        for leaf in self.reach(service).leaves {
            if let Some(s) = self.services.get(&leaf) {
                c.healthy += s.counts.healthy;
                c.degraded += s.counts.degraded;
                c.unhealthy += s.counts.unhealthy;
                c.unknown += s.counts.unknown;
            }
        }
        c
    }

    /// A composed service's instance counts and health, as its routes see it (none for
    /// a plain service): the counts of its leaves ([`State::reach_counts`]); the health
    /// from the choices on its way when there are any (nothing to choose: unhealthy;
    /// one off its first choice: degraded; else healthy), from the counts as for any
    /// service otherwise.
    pub fn composed_health(&self, service: &ServiceId) -> Option<(HealthCounts, Health)> {
        if !self.composites.contains_key(service) {
            return None;
        }
        let counts = self.reach_counts(service);
        let choices = self.choices_from(service);
        let health = if choices.is_empty() {
            super::health_of(counts, false)
        } else if choices.iter().any(|(_, c)| c.choice.chosen.is_none()) {
            Health::Unhealthy
        } else if choices.iter().any(|(_, c)| !c.choice.primary) {
            Health::Degraded
        } else {
            Health::Healthy
        };
        Some((counts, health))
    }

    /// The choices on the way from `service` down: each service it reaches that chooses,
    /// with its choice, in the walk's order.
    pub fn choices_from(&self, service: &ServiceId) -> Vec<(ServiceId, &Chosen)> {
        if !self.composites.contains_key(service) {
            return self
                .choices
                .get(service)
                .map(|c| (service.clone(), c))
                .into_iter()
                .collect();
        }
        self.reach(service)
            .services
            .into_iter()
            .filter_map(|s| self.choices.get(&s).map(|c| (s, c)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::event::{Event, EventBody};
    use crate::model::{Choice, Composition, RouteId, ServiceId, SourceId};
    use crate::state::{Severity, State};
    use crate::time::Timestamp;

    fn ev(at: i64, body: EventBody) -> Event {
        Event::new(Timestamp(at), SourceId::new("traefik"), body)
    }

    fn composed(service: &str, composition: Composition, parts: &[&str]) -> EventBody {
        EventBody::Composed {
            service: ServiceId::new(service),
            composition,
            parts: parts.iter().map(ServiceId::new).collect(),
        }
    }

    fn names(ids: &[ServiceId]) -> Vec<&str> {
        ids.iter().map(ServiceId::as_str).collect()
    }

    /// A failover over a weighted split over two pools, as the rig's Traefik runs it:
    /// the route reaches every service, the leaves are the three pools, and a cycle
    /// or a diamond ends the walk without looping or repeating.
    #[test]
    fn reach_walks_nested_compositions_once() {
        let mut s = State::default();
        s.apply(&ev(
            1,
            composed("fo", Composition::Failover, &["split", "spare"]),
        ));
        s.apply(&ev(
            2,
            composed("split", Composition::Weighted, &["a", "b"]),
        ));
        let r = s.reach(&ServiceId::new("fo"));
        assert_eq!(names(&r.services), ["fo", "split", "a", "b", "spare"]);
        assert_eq!(names(&r.leaves), ["a", "b", "spare"]);
        assert!(!r.cycle);
        let plain = s.reach(&ServiceId::new("a"));
        assert_eq!(
            names(&plain.leaves),
            ["a"],
            "a plain service is its own leaf"
        );

        // b -> loop -> split: a cycle back into the composition.
        s.apply(&ev(3, composed("b", Composition::Mirroring, &["loop"])));
        s.apply(&ev(
            4,
            composed("loop", Composition::Weighted, &["split", "a"]),
        ));
        let r = s.reach(&ServiceId::new("fo"));
        assert!(r.cycle, "the cycle is seen");
        assert_eq!(names(&r.leaves), ["a", "spare"]);
        assert_eq!(
            names(&r.services),
            ["fo", "split", "a", "b", "loop", "spare"]
        );

        // A diamond (two ways to the same pool) is no cycle.
        let mut d = State::default();
        d.apply(&ev(1, composed("top", Composition::Weighted, &["x", "y"])));
        d.apply(&ev(2, composed("x", Composition::Weighted, &["pool"])));
        d.apply(&ev(3, composed("y", Composition::Weighted, &["pool"])));
        let r = d.reach(&ServiceId::new("top"));
        assert!(!r.cycle);
        assert_eq!(names(&r.leaves), ["pool"]);
    }

    #[test]
    fn routed_services_follow_the_route_down() {
        let mut s = State::default();
        s.apply(&ev(
            1,
            EventBody::Route {
                route: RouteId::new("traefik/composed@file"),
                gateway: ServiceId::new("traefik"),
                service: ServiceId::new("fo"),
                breaker: None,
            },
        ));
        s.apply(&ev(
            2,
            composed("fo", Composition::Failover, &["a", "spare"]),
        ));
        let routed = s.routed_services();
        let keys: Vec<&str> = routed.keys().map(ServiceId::as_str).collect();
        assert_eq!(keys, ["a", "fo", "spare"]);
        assert_eq!(names(&routed[&ServiceId::new("spare")]), ["traefik"]);
    }

    /// Moving off the first choice is a warning, to nothing critical, back good; the
    /// first sight of a first choice and a repeat say nothing.
    #[test]
    fn a_choice_is_kept_and_its_moves_are_logged() {
        let choice = |chosen: Option<&str>, primary: bool| EventBody::Chose {
            service: ServiceId::new("fo"),
            choice: Choice {
                chosen: chosen.map(str::to_owned),
                primary,
                detail: "from the servers' health".into(),
            },
        };
        let mut s = State::default();
        let logged = |s: &State| s.log.len();
        s.apply(&ev(1, choice(Some("split"), true)));
        assert_eq!(logged(&s), 0);
        s.apply(&ev(2, choice(Some("split"), true)));
        assert_eq!(s.choices[&ServiceId::new("fo")].since, Timestamp(1));
        s.apply(&ev(3, choice(Some("spare"), false)));
        assert_eq!(s.log.back().map(|l| l.severity), Some(Severity::Warn));
        assert_eq!(s.choices[&ServiceId::new("fo")].since, Timestamp(3));
        s.apply(&ev(4, choice(None, false)));
        assert_eq!(s.log.back().map(|l| l.severity), Some(Severity::Critical));
        s.apply(&ev(5, choice(Some("split"), true)));
        let last = s.log.back().expect("logged");
        assert_eq!(last.severity, Severity::Good);
        assert!(last.message.contains("back on split"), "{}", last.message);
        assert_eq!(logged(&s), 3);
        let on_way = s.choices_from(&ServiceId::new("fo"));
        assert_eq!(on_way.len(), 1);
    }

    /// A composed service is judged by its choices when it has any, by its leaves'
    /// instances otherwise.
    #[test]
    fn a_composed_service_has_the_health_its_route_sees() {
        use crate::model::{Health, InstanceId};
        let mut s = State::default();
        s.apply(&ev(
            1,
            composed("fo", Composition::Failover, &["a", "spare"]),
        ));
        s.apply(&ev(
            1,
            composed("w", Composition::Weighted, &["a", "spare"]),
        ));
        for (i, svc, h) in [
            ("10.0.0.1:80", "a", Health::Unhealthy),
            ("10.0.0.2:80", "a", Health::Unhealthy),
            ("10.0.0.3:80", "spare", Health::Healthy),
        ] {
            s.apply(&ev(
                2,
                EventBody::InstanceHealth {
                    instance: InstanceId::new(i),
                    service: ServiceId::new(svc),
                    health: h,
                    detail: None,
                },
            ));
        }
        assert_eq!(s.composed_health(&ServiceId::new("a")), None);
        let (counts, health) = s.composed_health(&ServiceId::new("w")).expect("composed");
        assert_eq!((counts.healthy, counts.total()), (1, 3));
        assert_eq!(health, Health::Unhealthy, "one of three: by the counts");
        s.apply(&ev(
            3,
            EventBody::Chose {
                service: ServiceId::new("fo"),
                choice: Choice {
                    chosen: Some("spare".into()),
                    primary: false,
                    detail: String::new(),
                },
            },
        ));
        let (_, health) = s.composed_health(&ServiceId::new("fo")).expect("composed");
        assert_eq!(health, Health::Degraded, "served by its fallback");
    }
}
