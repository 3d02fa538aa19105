//! Traefik's composed services: weighted, failover and mirroring services made of other
//! services, nested to any depth, with load balancers (the services that have servers)
//! at the bottom.
//!
//! Traefik counts requests on the load balancers only (`traefik_service_requests_total`
//! names the leaves, never the weighted or failover service a router names), and the
//! servers are the load balancers' too. So a router's backends, and the counters its
//! inferred breaker reads, are those of every load balancer its service reaches
//! ([`leaves`]). The walk passes each service once: a cycle (Traefik refuses to run one,
//! "recursion detected") ends it, and nesting deeper than [`MAX_DEPTH`] is not followed.
//!
//! Traefik's API does not say which way a failover sends its traffic. It is decided as
//! Traefik decides it ([`choices`]), from the same health checks the API reports: the
//! main service while it is up, else the fallback while that is up, else nothing (503).
//! A load balancer is up while one of its servers is UP (always, without a health
//! check); a weighted service while one of its parts is; a failover while its main or
//! its fallback is; a mirroring service while its main is. A failover without its own
//! `healthCheck` does not follow its fallback's health and always counts it up.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{RawData, qualify};
use crate::model::{Choice, Composition};

/// Nesting deeper than this is not followed (no real configuration comes near it; it
/// bounds the walk on a hostile answer).
pub const MAX_DEPTH: usize = 64;

/// A service made of other services, as `/api/rawdata` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Composed {
    /// Weighted, failover or mirroring.
    pub composition: Composition,
    /// Its parts, qualified with their provider: a failover's main then its fallback, a
    /// mirroring's main then its mirrors, a weighted service's in its order.
    pub parts: Vec<String>,
    /// It has a `healthCheck` of its own (a failover then follows its fallback's
    /// health too).
    pub health_check: bool,
}

/// The composition of one service of `/api/rawdata` (`s`), if it is composed.
pub(super) fn parts_of(s: &Value, provider: &str) -> Option<Composed> {
    let names = |list: Option<&Value>| -> Vec<String> {
        list.and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(|c| c.get("name")?.as_str())
                    .map(|c| qualify(c, provider))
                    .collect()
            })
            .unwrap_or_default()
    };
    let one = |v: &Value, key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .map(|c| qualify(c, provider))
    };
    let (composition, body, parts) = if let Some(w) = s.get("weighted") {
        (Composition::Weighted, w, names(w.get("services")))
    } else if let Some(f) = s.get("failover") {
        let parts = one(f, "service")
            .into_iter()
            .chain(one(f, "fallback"))
            .collect();
        (Composition::Failover, f, parts)
    } else if let Some(m) = s.get("mirroring") {
        let parts = one(m, "service")
            .into_iter()
            .chain(names(m.get("mirrors")))
            .collect();
        (Composition::Mirroring, m, parts)
    } else {
        return None;
    };
    (!parts.is_empty()).then(|| Composed {
        composition,
        parts,
        health_check: body.get("healthCheck").is_some_and(|h| !h.is_null()),
    })
}

/// The load balancers `service` reaches (itself when it is one, or names nothing
/// Traefik composes), each once, depth first in the parts' order.
pub fn leaves(raw: &RawData, service: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut stack = vec![(service, 0usize)];
    while let Some((s, depth)) = stack.pop() {
        if depth > MAX_DEPTH || !seen.insert(s) {
            continue;
        }
        match raw.composed.get(s) {
            Some(c) => stack.extend(c.parts.iter().rev().map(|p| (p.as_str(), depth + 1))),
            None => out.push(s.to_owned()),
        }
    }
    out
}

/// Whether Traefik counts `service` up (see the module's doc); `path` holds the
/// services being walked, so a cycle counts down instead of looping.
fn up<'a>(raw: &'a RawData, service: &'a str, path: &mut Vec<&'a str>) -> bool {
    if path.len() > MAX_DEPTH || path.contains(&service) {
        return false;
    }
    let Some(c) = raw.composed.get(service) else {
        return raw.servers.get(service).is_none_or(|servers| {
            servers.iter().all(|(_, st)| st.is_none())
                || servers.iter().any(|(_, st)| st.as_deref() == Some("UP"))
        });
    };
    path.push(service);
    let answer = match c.composition {
        Composition::Weighted | Composition::Aggregate => c.parts.iter().any(|p| up(raw, p, path)),
        Composition::Mirroring => c.parts.first().is_some_and(|p| up(raw, p, path)),
        Composition::Failover => {
            c.parts.first().is_some_and(|p| up(raw, p, path))
                || c.parts
                    .get(1)
                    .is_some_and(|p| !c.health_check || up(raw, p, path))
        }
    };
    path.pop();
    answer
}

/// Whether Traefik would send `service`'s traffic to a server now (see the module's
/// doc): the guards of workflows that move a route there ask it.
pub fn serves(raw: &RawData, service: &str) -> bool {
    up(raw, service, &mut Vec::new())
}

/// Where each failover service sends its traffic now, as Traefik decides it.
pub fn choices(raw: &RawData) -> Vec<(String, Choice)> {
    let mut out = Vec::new();
    for (name, c) in &raw.composed {
        if c.composition != Composition::Failover {
            continue;
        }
        let (Some(main), fallback) = (c.parts.first(), c.parts.get(1)) else {
            continue;
        };
        let mut path = vec![name.as_str()];
        let choice = if up(raw, main, &mut path) {
            Choice {
                chosen: Some(main.clone()),
                primary: true,
                detail: format!("its main {main} has a server up (Traefik's health checks)"),
            }
        } else {
            match fallback {
                Some(f) if !c.health_check => Choice {
                    chosen: Some(f.clone()),
                    primary: false,
                    detail: format!(
                        "its main {main} has no server up; the failover has no healthCheck, so it sends to {f} whatever its health"
                    ),
                },
                Some(f) if up(raw, f, &mut path) => Choice {
                    chosen: Some(f.clone()),
                    primary: false,
                    detail: format!("its main {main} has no server up; its fallback {f} has"),
                },
                _ => Choice {
                    chosen: None,
                    primary: false,
                    detail: format!(
                        "neither its main {main} nor its fallback {} has a server up: Traefik answers 503",
                        fallback.map_or("(none)", String::as_str)
                    ),
                },
            }
        };
        out.push((name.clone(), choice));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::sources::traefik::parse_rawdata;

    fn doc(a: &str, b: &str, spare: &str) -> String {
        format!(
            r#"{{"routers":{{"composed@file":{{"service":"fo","middlewares":[]}}}},
            "services":{{
              "fo@file":{{"failover":{{"service":"split","fallback":"spare","healthCheck":{{}}}}}},
              "split@file":{{"weighted":{{"services":[{{"name":"a","weight":3}},{{"name":"b","weight":1}}],"healthCheck":{{}}}}}},
              "a@file":{{"loadBalancer":{{"servers":[{{"url":"http://127.0.0.1:1"}}]}},"serverStatus":{{"http://127.0.0.1:1":"{a}"}}}},
              "b@file":{{"loadBalancer":{{"servers":[{{"url":"http://127.0.0.1:2"}}]}},"serverStatus":{{"http://127.0.0.1:2":"{b}"}}}},
              "spare@file":{{"loadBalancer":{{"servers":[{{"url":"http://127.0.0.1:3"}}]}},"serverStatus":{{"http://127.0.0.1:3":"{spare}"}}}}
            }}}}"#
        )
    }

    fn chosen(a: &str, b: &str, spare: &str) -> Choice {
        let raw = parse_rawdata(&doc(a, b, spare)).expect("parse");
        let mut c = choices(&raw);
        assert_eq!(c.len(), 1);
        c.remove(0).1
    }

    #[test]
    fn leaves_of_a_failover_over_a_weighted_split() {
        let raw = parse_rawdata(&doc("UP", "UP", "UP")).expect("parse");
        assert_eq!(leaves(&raw, "fo@file"), ["a@file", "b@file", "spare@file"]);
        assert_eq!(leaves(&raw, "a@file"), ["a@file"]);
        assert_eq!(
            raw.composed["fo@file"].parts,
            ["split@file", "spare@file"],
            "main first"
        );
        assert!(raw.composed["fo@file"].health_check);
    }

    #[test]
    fn a_failover_chooses_as_traefik_does() {
        let c = chosen("UP", "DOWN", "UP");
        assert_eq!(c.chosen.as_deref(), Some("split@file"));
        assert!(c.primary, "one server of the split is enough");
        let c = chosen("DOWN", "DOWN", "UP");
        assert_eq!(c.chosen.as_deref(), Some("spare@file"));
        assert!(!c.primary);
        let c = chosen("DOWN", "DOWN", "DOWN");
        assert_eq!(c.chosen, None);
        assert!(c.detail.contains("503"), "{}", c.detail);
    }

    #[test]
    fn cycles_and_depth_end_the_walk() {
        let raw = parse_rawdata(
            r#"{"services":{
              "loop1@file":{"weighted":{"services":[{"name":"loop2"}]}},
              "loop2@file":{"weighted":{"services":[{"name":"loop1"},{"name":"pool"}]}},
              "fo@file":{"failover":{"service":"loop1","fallback":"pool","healthCheck":{}}},
              "pool@file":{"loadBalancer":{"servers":[{"url":"http://127.0.0.1:1"}]},"serverStatus":{"http://127.0.0.1:1":"UP"}}
            }}"#,
        )
        .expect("parse");
        assert_eq!(leaves(&raw, "loop1@file"), ["pool@file"]);
        let c = choices(&raw);
        assert_eq!(
            c[0].1.chosen.as_deref(),
            Some("loop1@file"),
            "the cycle's way out to pool is up"
        );
        // A chain deeper than the bound is cut, not followed to the end.
        let mut services = String::new();
        for i in 0..200 {
            let next = i + 1;
            write!(
                services,
                r#""s{i}@file":{{"weighted":{{"services":[{{"name":"s{next}"}}]}}}},"#
            )
            .expect("a String takes it");
        }
        services.push_str(r#""s200@file":{"loadBalancer":{"servers":[]}}"#);
        let raw = parse_rawdata(&format!(r#"{{"services":{{{services}}}}}"#)).expect("parse");
        assert!(leaves(&raw, "s0@file").is_empty(), "cut at the depth bound");
    }
}
