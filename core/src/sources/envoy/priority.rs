//! Envoy's priority levels and aggregate clusters: which hosts take a cluster's traffic.
//!
//! A cluster's hosts may sit at several priority levels; an aggregate cluster
//! (`envoy.clusters.aggregate`) is a list of clusters whose levels Envoy lines up one
//! after the other. Envoy sends to the first level while it is healthy enough and lets
//! the rest spill over to the next ones, by its documented rule: a level's health is
//! its share of healthy hosts times the overprovisioning factor (1.4 unless the
//! cluster's `load_assignment.policy` says otherwise), capped at 100 %; the first level
//! takes its health in percent of the traffic, the next the rest up to its own health,
//! and so on; when the levels' health adds up to less than 100 %, the shares are scaled
//! up to fill it. Degraded hosts count as not healthy here (Envoy gives them traffic
//! only after every healthy host, a tier this does not follow).
//!
//! `/clusters` gives each host's priority but not the aggregates: those come from the
//! config dump (`/config_dump?resource=static_clusters` and `dynamic_active_clusters`,
//! masked to each cluster's name, type and load-assignment policy), which is read when
//! the set of clusters changes and every 30 s, after `/clusters` answered as Envoy and
//! in the time the poll has left. An EDS cluster's policy is not in its cluster config,
//! so the factor is then assumed 1.4.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::{Cluster, EnvoyError};
use crate::event::EventBody;
use crate::model::{Choice, Composition, Health, ServiceId};

/// Envoy's default overprovisioning factor, in percent.
pub const DEFAULT_FACTOR_PERCENT: u32 = 140;

/// What the config dump says of the clusters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterConfigs {
    /// Aggregate cluster -> its clusters, in priority order.
    pub aggregates: BTreeMap<String, Vec<String>>,
    /// Cluster -> its overprovisioning factor in percent, where its config sets one.
    pub factors: BTreeMap<String, u32>,
}

impl ClusterConfigs {
    /// Adds what one config dump answer says (`{}` when there are no such clusters).
    pub fn read(&mut self, text: &str) -> Result<(), EnvoyError> {
        let v: Value = serde_json::from_str(text)
            .map_err(|_| EnvoyError::NotJson(crate::sources::excerpt::excerpt(text)))?;
        for entry in v
            .get("configs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(c) = entry.get("cluster") else {
                continue;
            };
            let Some(name) = c.get("name").and_then(Value::as_str) else {
                continue;
            };
            let ty = c.get("cluster_type");
            if ty.and_then(|t| t.get("name")).and_then(Value::as_str)
                == Some("envoy.clusters.aggregate")
            {
                let parts: Vec<String> = ty
                    .and_then(|t| t.get("typed_config"))
                    .and_then(|t| t.get("clusters"))
                    .and_then(Value::as_array)
                    .map(|l| {
                        l.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                self.aggregates.insert(name.to_owned(), parts);
            }
            // A UInt32Value: a bare number in JSON.
            if let Some(f) = c
                .get("load_assignment")
                .and_then(|l| l.get("policy"))
                .and_then(|p| p.get("overprovisioning_factor"))
                .and_then(Value::as_u64)
                .and_then(|f| u32::try_from(f).ok())
            {
                self.factors.insert(name.to_owned(), f);
            }
        }
        Ok(())
    }
}

/// The share of traffic (percent) each level takes, from (healthy, total) hosts and
/// the overprovisioning factor of each level, by Envoy's rule (see the module doc).
/// All zero when no level has a healthy host.
pub fn priority_load(levels: &[(usize, usize, u32)]) -> Vec<u32> {
    let health: Vec<u32> = levels
        .iter()
        .map(|&(healthy, total, factor)| {
            if total == 0 {
                0
            } else {
                let h = u64::from(factor) * healthy as u64 / total as u64;
                u32::try_from(h.min(100)).unwrap_or(100)
            }
        })
        .collect();
    let total: u32 = health.iter().sum::<u32>().min(100);
    if total == 0 {
        return vec![0; levels.len()];
    }
    let mut remaining = 100;
    let mut load: Vec<u32> = health
        .iter()
        .map(|h| {
            let l = (h * 100 / total).min(remaining);
            remaining -= l;
            l
        })
        .collect();
    // Integer shares may leave a percent or two: the first level with health takes it.
    if remaining > 0
        && let Some(i) = health.iter().position(|h| *h > 0)
    {
        load[i] += remaining;
    }
    load
}

/// (healthy, total) hosts of each priority level of `cluster`, in level order.
fn levels_of(cluster: &Cluster) -> Vec<(u32, usize, usize)> {
    let mut by_level: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
    for h in &cluster.hosts {
        let e = by_level.entry(h.priority).or_default();
        e.1 += 1;
        if h.health == Health::Healthy {
            e.0 += 1;
        }
    }
    by_level
        .into_iter()
        .map(|(p, (healthy, total))| (p, healthy, total))
        .collect()
}

/// Where each cluster with several priority levels, and each aggregate cluster, sends
/// its traffic now.
pub fn choices(clusters: &[Cluster], configs: &ClusterConfigs) -> Vec<(String, Choice)> {
    let by_name: BTreeMap<&str, &Cluster> = clusters.iter().map(|c| (c.name.as_str(), c)).collect();
    let factor = |name: &str| {
        configs
            .factors
            .get(name)
            .copied()
            .unwrap_or(DEFAULT_FACTOR_PERCENT)
    };
    let mut out = Vec::new();
    for c in clusters {
        let levels = levels_of(c);
        if levels.len() < 2 {
            continue;
        }
        let f = factor(&c.name);
        let load = priority_load(
            &levels
                .iter()
                .map(|&(_, healthy, total)| (healthy, total, f))
                .collect::<Vec<_>>(),
        );
        let names: Vec<String> = levels
            .iter()
            .map(|(p, _, _)| format!("priority {p}"))
            .collect();
        out.push((
            c.name.clone(),
            choice_of(&names, &load, &health_words(&levels)),
        ));
    }
    for (agg, parts) in &configs.aggregates {
        // The parts' levels one after the other, each with its cluster's factor.
        let mut lines: Vec<(usize, (usize, usize, u32))> = Vec::new();
        let mut words = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let Some(c) = by_name.get(p.as_str()) else {
                words.push(format!("{p}: not in /clusters"));
                continue;
            };
            let levels = levels_of(c);
            let (healthy, total) = levels
                .iter()
                .fold((0, 0), |(h, t), (_, lh, lt)| (h + lh, t + lt));
            words.push(format!("{p}: {healthy} of {total} hosts healthy"));
            lines.extend(
                levels
                    .iter()
                    .map(|&(_, healthy, total)| (i, (healthy, total, factor(p)))),
            );
        }
        let load = priority_load(&lines.iter().map(|(_, l)| *l).collect::<Vec<_>>());
        let mut per_part = vec![0u32; parts.len()];
        for ((i, _), l) in lines.iter().zip(&load) {
            per_part[*i] += l;
        }
        out.push((agg.clone(), choice_of(parts, &per_part, &words.join("; "))));
    }
    out
}

/// The events of the aggregates (their composition, edges to their clusters) and the
/// choices of aggregates and clusters with several priority levels.
pub fn events(clusters: &[Cluster], configs: &ClusterConfigs) -> Vec<EventBody> {
    let mut out = Vec::new();
    for (agg, parts) in &configs.aggregates {
        let service = ServiceId::new(agg);
        out.push(EventBody::Composed {
            service: service.clone(),
            composition: Composition::Aggregate,
            parts: parts.iter().map(ServiceId::new).collect(),
        });
        for p in parts {
            out.push(EventBody::Edge {
                from: service.clone(),
                to: ServiceId::new(p),
            });
        }
    }
    for (service, choice) in choices(clusters, configs) {
        out.push(EventBody::Chose {
            service: ServiceId::new(service),
            choice,
        });
    }
    out
}

fn health_words(levels: &[(u32, usize, usize)]) -> String {
    levels
        .iter()
        .map(|(p, healthy, total)| format!("priority {p}: {healthy} of {total} healthy"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The choice of one cluster over `names` (its levels or an aggregate's clusters),
/// given each one's share of the traffic.
fn choice_of(names: &[String], load: &[u32], health: &str) -> Choice {
    let taking: Vec<(&String, u32)> = names
        .iter()
        .zip(load)
        .filter(|(_, l)| **l > 0)
        .map(|(n, l)| (n, *l))
        .collect();
    if load.iter().sum::<u32>() == 0 {
        return Choice {
            chosen: None,
            primary: false,
            detail: format!("no healthy host ({health}): Envoy's panic mode sends to every host"),
        };
    }
    let chosen = match taking.as_slice() {
        [(one, _)] => (*one).clone(),
        many => {
            let mut s = String::new();
            for (k, (n, l)) in many.iter().enumerate() {
                if k > 0 {
                    s.push_str(", ");
                }
                write!(s, "{n} {l} %").ok();
            }
            s
        }
    };
    Choice {
        chosen: Some(chosen),
        primary: load.first() == Some(&100),
        detail: format!("as Envoy's priority load gives it ({health})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::envoy::parse_clusters;

    #[test]
    fn priority_load_follows_envoys_examples() {
        let two = |healthy0: usize| priority_load(&[(healthy0, 100, 140), (100, 100, 140)]);
        // The table of Envoy's "Priority levels" page, P=1 fully healthy.
        assert_eq!(two(100), [100, 0]);
        assert_eq!(two(72), [100, 0]);
        assert_eq!(two(71), [99, 1]);
        assert_eq!(two(50), [70, 30]);
        assert_eq!(two(25), [35, 65]);
        assert_eq!(two(0), [0, 100]);
        // Not enough health in all: the shares are scaled up to fill 100 %.
        assert_eq!(priority_load(&[(1, 5, 140), (1, 5, 140)]), [50, 50]);
        assert_eq!(priority_load(&[(0, 2, 140), (0, 1, 140)]), [0, 0]);
        assert_eq!(priority_load(&[(3, 3, 100), (1, 1, 100)]), [100, 0]);
    }

    fn recorded(clusters: &str) -> Vec<(String, Choice)> {
        let clusters = parse_clusters(clusters).expect("clusters");
        let mut configs = ClusterConfigs::default();
        configs
            .read(include_str!(
                "../../../tests/fixtures/envoy/config-dump-aggregate-static-clusters.json"
            ))
            .expect("static");
        configs
            .read(include_str!(
                "../../../tests/fixtures/envoy/config-dump-no-dynamic-clusters.json"
            ))
            .expect("dynamic");
        assert_eq!(
            configs.aggregates["aggsvc"],
            ["primarysvc", "standbysvc"],
            "the aggregate's clusters, in order"
        );
        choices(&clusters, &configs)
    }

    fn of<'a>(c: &'a [(String, Choice)], name: &str) -> &'a Choice {
        &c.iter().find(|(n, _)| n == name).expect(name).1
    }

    /// Recorded from a real Envoy 1.40: aggsvc = [primarysvc (P0 :47104, P1 :47105),
    /// standbysvc], the backends killed one by one.
    #[test]
    fn recorded_aggregate_moves_down_the_priorities() {
        let c = recorded(include_str!(
            "../../../tests/fixtures/envoy/clusters-aggregate-healthy.json"
        ));
        assert_eq!(of(&c, "primarysvc").chosen.as_deref(), Some("priority 0"));
        assert!(of(&c, "primarysvc").primary);
        assert_eq!(of(&c, "aggsvc").chosen.as_deref(), Some("primarysvc"));
        assert!(of(&c, "aggsvc").primary);

        let c = recorded(include_str!(
            "../../../tests/fixtures/envoy/clusters-aggregate-p0-down.json"
        ));
        let p = of(&c, "primarysvc");
        assert_eq!(p.chosen.as_deref(), Some("priority 1"));
        assert!(!p.primary, "{}", p.detail);
        let a = of(&c, "aggsvc");
        assert_eq!(
            a.chosen.as_deref(),
            Some("primarysvc"),
            "P1 of primarysvc is still before standbysvc"
        );
        assert!(a.primary, "its first cluster takes it all: {}", a.detail);

        let c = recorded(include_str!(
            "../../../tests/fixtures/envoy/clusters-aggregate-primary-down.json"
        ));
        let a = of(&c, "aggsvc");
        assert_eq!(a.chosen.as_deref(), Some("standbysvc"));
        assert!(a.detail.contains("primarysvc: 0 of 2"), "{}", a.detail);
        assert_eq!(of(&c, "primarysvc").chosen, None);
    }
}
