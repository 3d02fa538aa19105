//! Operators' actions on the simulated fleet, and the view its workflows read.

use super::{
    DATABASE, DB_MAX_CONNECTIONS, DrillFleet, GATEWAYS, NAME_SERVERS, PUBLIC_NAME, PUBLIC_PRIMARY,
    PUBLIC_STANDBY, PUBLIC_ZONE,
};
use crate::event::DrillFault;
use crate::model::{DbRole, DnsRead, DnsRecordView, Health, ServiceId, ServiceRole};

/// An HAProxy-like server state an operator sets on a drill instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerState {
    /// No new sessions.
    Drain,
    /// Out of rotation.
    Maint,
    /// In rotation.
    Ready,
}

/// An operator's action on the simulated fleet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DrillAction {
    /// An instance to `drain`, `maint` or `ready`.
    Server {
        /// The instance.
        instance: String,
        /// The state.
        state: ServerState,
    },
    /// An instance or database member powered off (fenced) or on.
    Power {
        /// The instance or member.
        node: String,
        /// On.
        on: bool,
    },
    /// The database: `member` becomes the primary.
    Promote {
        /// The member.
        member: String,
    },
    /// A gateway route served by its fallback, or not.
    Fallback {
        /// The route (its breaker's name).
        route: String,
        /// Served by the fallback.
        on: bool,
    },
    /// The database's hanging sessions terminated (ends a connection leak).
    TerminateSessions,
    /// The public name moved to the standby region (`standby`), or back.
    PublicName {
        /// Points to the standby region.
        standby: bool,
    },
    /// A service scaled to `replicas` running instances (the rest powered off).
    Scale {
        /// The service.
        service: String,
        /// Instances to run.
        replicas: usize,
    },
}

/// One instance as the drill's workflows see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrillInstance {
    /// Its name.
    pub id: String,
    /// Its service.
    pub service: String,
    /// Its health now.
    pub health: Health,
    /// `UP`, `DRAIN`, `MAINT` or `OFF`.
    pub state: &'static str,
}

/// What the drill's workflows read to plan and verify.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrillView {
    /// Every instance of a service (gateways aside).
    pub instances: Vec<DrillInstance>,
    /// The database's members: (name, role, powered on).
    pub db: Vec<(String, DbRole, bool)>,
    /// Gateway routes: (name, served by its fallback).
    pub routes: Vec<(String, bool)>,
    /// The database primary's sessions by state: (state, count).
    pub sessions: Vec<(&'static str, u32)>,
    /// The public name, and whether it points to the standby region.
    pub public: (String, bool),
    /// The DCS (drill-etcd): whether it has quorum, in words.
    pub dcs: (bool, String),
}

/// The drill's database cluster.
pub const DRILL_DATABASE: &str = DATABASE;

/// The drill's public name as a DNS workflow target (`dns-source/name`).
pub const DRILL_PUBLIC_TARGET: &str = "drill/www";

impl DrillFleet {
    /// What the workflows read.
    pub fn view(&self) -> DrillView {
        DrillView {
            instances: self
                .instances
                .iter()
                .filter(|i| self.services[i.service].role == ServiceRole::Service)
                .map(|i| DrillInstance {
                    id: i.id.to_string(),
                    service: self.services[i.service].id.to_string(),
                    health: i.health,
                    state: match (i.off, i.operator) {
                        _ if i.scaled_out => "OUT",
                        (true, _) => "OFF",
                        (false, Some(ServerState::Drain)) => "DRAIN",
                        (false, Some(ServerState::Maint)) => "MAINT",
                        _ => "UP",
                    },
                })
                .collect(),
            db: self
                .db_members
                .iter()
                .zip(&self.db_off)
                .map(|((m, r), off)| (m.to_string(), *r, !*off))
                .collect(),
            routes: self
                .routes
                .iter()
                .map(|r| (r.breaker.to_string(), r.fallback))
                .collect(),
            public: (PUBLIC_NAME.to_owned(), self.public_standby),
            dcs: self.clusters.first().map_or_else(
                || (false, "no DCS in the drill".to_owned()),
                |c| {
                    let n = c.members.len();
                    let live = c.up.iter().filter(|u| **u).count();
                    let holds = live > n / 2 && c.leader.is_some();
                    (
                        holds,
                        format!(
                            "{}: {live} of {n} members answer{}",
                            c.id,
                            if holds {
                                ", one leader"
                            } else {
                                ": quorum lost"
                            }
                        ),
                    )
                },
            ),
            sessions: {
                let at = self.last_step.unwrap_or_default();
                let (in_use, _) = self.leak_pool(at);
                let leaked = in_use.saturating_sub(12) * 3;
                let connections = (40 + leaked).min(DB_MAX_CONNECTIONS);
                vec![
                    ("active", connections.min(6)),
                    ("idle", connections.saturating_sub(6 + leaked)),
                    ("idle in transaction", leaked),
                ]
            },
        }
    }

    /// Applies an operator's action; its effect shows from the next step. Returns what
    /// was done, in words, or why it could not be.
    pub fn act(&mut self, action: &DrillAction) -> Result<String, String> {
        match action {
            DrillAction::Server { instance, state } => {
                let i = self.instance_index(instance)?;
                self.instances[i].operator = match state {
                    ServerState::Ready => None,
                    s => Some(*s),
                };
                Ok(format!("{instance} set to {state:?} (DRILL)"))
            }
            DrillAction::Power { node, on } => {
                if let Some(m) = self.db_members.iter().position(|(m, _)| m.as_str() == node) {
                    self.db_off[m] = !on;
                    if *on {
                        // Back from a fence: it rejoins as a replica if another member
                        // was promoted meanwhile.
                        let others_primary =
                            self.db_members.iter().enumerate().any(|(k, (_, r))| {
                                k != m && *r == DbRole::Primary && !self.db_off[k]
                            });
                        if others_primary {
                            self.db_members[m].1 = DbRole::Replica;
                        }
                    }
                } else {
                    let i = self.instance_index(node)?;
                    self.instances[i].off = !on;
                }
                Ok(format!(
                    "{node} powered {} (DRILL)",
                    if *on { "on" } else { "off" }
                ))
            }
            DrillAction::Promote { member } => {
                let m = self
                    .db_members
                    .iter()
                    .position(|(n, _)| n.as_str() == member)
                    .ok_or_else(|| format!("no database member {member} in the drill"))?;
                if self.db_off[m] {
                    return Err(format!("{member} is powered off"));
                }
                for (k, entry) in self.db_members.iter_mut().enumerate() {
                    entry.1 = if k == m {
                        DbRole::Primary
                    } else {
                        DbRole::Replica
                    };
                }
                Ok(format!("{member} promoted (DRILL)"))
            }
            DrillAction::TerminateSessions => {
                let at = self.last_step.unwrap_or_default();
                let leaked = self.leak_pool(at).0.saturating_sub(12) * 3;
                self.faults
                    .retain(|(f, _)| *f != DrillFault::ConnectionLeak);
                Ok(format!("{leaked} hanging session(s) terminated (DRILL)"))
            }
            DrillAction::Scale { service, replicas } => {
                let s = self
                    .services
                    .iter()
                    .position(|s| s.id.as_str() == service && s.role == ServiceRole::Service)
                    .ok_or_else(|| format!("no service {service} in the drill"))?;
                let (first, count) = (self.services[s].first, self.services[s].count);
                for k in 0..count {
                    self.instances[first + k].scaled_out = k >= *replicas;
                }
                Ok(format!(
                    "{service} scaled to {} of {count} instance(s) (DRILL)",
                    (*replicas).min(count)
                ))
            }
            DrillAction::PublicName { standby } => {
                if self.public_standby != *standby {
                    self.public_standby = *standby;
                    self.public_serial += 1;
                }
                Ok(format!(
                    "{PUBLIC_NAME} points to {} (DRILL)",
                    if *standby {
                        PUBLIC_STANDBY
                    } else {
                        PUBLIC_PRIMARY
                    }
                ))
            }
            DrillAction::Fallback { route, on } => {
                let r = self
                    .routes
                    .iter_mut()
                    .find(|r| r.breaker.as_str() == route)
                    .ok_or_else(|| format!("no route {route} in the drill"))?;
                r.fallback = *on;
                Ok(format!(
                    "{route} {} (DRILL)",
                    if *on {
                        "served by its fallback"
                    } else {
                        "back on its service"
                    }
                ))
            }
        }
    }

    /// The public name as the simulated name servers answer it.
    pub(super) fn public_record(&self) -> crate::event::EventBody {
        let value = if self.public_standby {
            PUBLIC_STANDBY
        } else {
            PUBLIC_PRIMARY
        };
        crate::event::EventBody::DnsRecord {
            record: DnsRecordView {
                name: PUBLIC_NAME.to_owned(),
                zone: PUBLIC_ZONE.to_owned(),
                rtype: "CNAME".to_owned(),
                reads: NAME_SERVERS
                    .iter()
                    .map(|server| DnsRead {
                        server: (*server).to_owned(),
                        values: vec![value.to_owned()],
                        ttl_secs: Some(15),
                        serial: Some(self.public_serial),
                        error: None,
                    })
                    .collect(),
                primary: vec![PUBLIC_PRIMARY.to_owned()],
                standby: vec![PUBLIC_STANDBY.to_owned()],
                // The fleet is the primary region, entered through its edge gateway;
                // the standby region is outside the simulation.
                service: (!self.public_standby).then(|| ServiceId::new(GATEWAYS[0])),
            },
        }
    }

    fn instance_index(&self, name: &str) -> Result<usize, String> {
        self.instances
            .iter()
            .position(|i| i.id.as_str() == name)
            .filter(|i| self.services[self.instances[*i].service].role == ServiceRole::Service)
            .ok_or_else(|| format!("no instance {name} in the drill"))
    }
}
