//! The workflows an operator can ask for, declared once: each line of the table below
//! gives a [`Kind`] its variant, its name on the command line and in the journal, and
//! its one-line description; `ALL`, [`Kind::as_str`], [`Kind::describe`] and
//! [`Kind::parse`] are generated from it, so a workflow cannot be added without a name
//! or left out of parsing. Which targets take which workflow is the target registry's
//! business (`workflow::target`).

use serde::{Deserialize, Serialize};

use super::WorkflowError;

/// Declares [`Kind`] and its table.
macro_rules! workflow_kinds {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal : $describe:literal ,)*) => {
        /// A workflow.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Kind {
            $( $(#[$doc])* $variant, )*
        }

        impl Kind {
            /// Every workflow, in the table's order.
            pub const ALL: [Self; [$($name),*].len()] = [$(Self::$variant),*];

            /// Its name (`drain`, `delete-pod`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $name, )*
                }
            }

            /// What it does, one line, with the shape of its target.
            pub const fn describe(self) -> &'static str {
                match self {
                    $( Self::$variant => $describe, )*
                }
            }
        }
    };
}

workflow_kinds! {
    /// HAProxy server: no new sessions; existing ones finish.
    Drain = "drain":
        "HAProxy server: stop new sessions, let current ones finish (target gateway/backend/server)",
    /// HAProxy server: out of rotation (maintenance).
    Maint = "maint":
        "HAProxy server: take it out of rotation for maintenance (target gateway/backend/server)",
    /// HAProxy server: back in rotation.
    Ready = "ready":
        "HAProxy server: put it back in rotation (target gateway/backend/server)",
    /// HAProxy server: back in rotation through a canary ramp (10, 50, 100 %); a database
    /// member: verified back as a replica.
    Reintegrate = "reintegrate":
        "HAProxy server back through a canary ramp 10 -> 50 -> 100 %, rolled back when it errs (target gateway/backend/server); or a database member verified back as a replica (target patroni-source/member)",
    /// Traefik router: to its configured fallback service (file provider); HAProxy
    /// backend: to its backup servers.
    Fallback = "fallback":
        "Traefik router to its fallback service (file provider; target traefik-source/router), or HAProxy backend to its backup servers (target gateway/backend)",
    /// Traefik router: back to its primary service; HAProxy backend: its servers back.
    Restore = "restore":
        "Traefik router back to its primary service, or HAProxy backend's servers back in rotation (target as for fallback)",
    /// Patroni: hand the primary role to a named healthy replica.
    Switchover = "switchover":
        "Patroni: make a healthy replica the primary (target patroni-source/candidate)",
    /// Patroni: promote a named replica when the leader is not healthy.
    Failover = "failover":
        "Patroni: promote a named replica when the leader is not healthy (target patroni-source/candidate)",
    /// A node: power it off through its fence devices (STONITH), level by level.
    Fence = "fence":
        "Node: power it off through its fence devices, level by level (target node)",
    /// A node: power it on again through its fence devices.
    Unfence = "unfence":
        "Node: power it on through its fence devices (target node)",
    /// A Kubernetes node: no new pods scheduled on it.
    Cordon = "cordon":
        "Kubernetes node: no new pods scheduled on it (target kubernetes-source/node)",
    /// A Kubernetes node: schedulable again.
    Uncordon = "uncordon":
        "Kubernetes node: schedulable again (target kubernetes-source/node)",
    /// A Kubernetes pod: deleted, its controller replaces it.
    DeletePod = "delete-pod":
        "Kubernetes pod: delete it, its controller replaces it (target kubernetes-source/namespace/pod)",
    /// An etcd member: removed from the cluster's membership.
    EtcdRemove = "etcd-remove":
        "etcd: remove a dead member from the cluster's membership (target etcd-source/member)",
    /// A public name: to its standby value (another region), in one signed update.
    DnsFailover = "dns-failover":
        "DNS record: point a public name at its standby value in one signed update, verified on every authoritative server (target dns-source/name)",
    /// A public name: back to its primary value.
    DnsRestore = "dns-restore":
        "DNS record: point a public name back at its primary value (target as for dns-failover)",
    /// A runbook: its steps in order (target: the runbook's name).
    Runbook = "runbook":
        "Runbook: its steps in order, one confirmation (target: the runbook's name)",
    /// An experiment (game day): a fault injected on a real system, measured until the
    /// hypothesis holds again, then undone.
    Experiment = "experiment":
        "Experiment (game day): inject its fault, measure detection and recovery against its hypothesis, undo the fault (target: the experiment's name)",
}

impl Kind {
    /// Parses a name.
    pub fn parse(s: &str) -> Result<Self, WorkflowError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                WorkflowError::Usage(format!(
                    "no workflow {s:?}; known: {}",
                    Self::ALL.map(Self::as_str).join(", ")
                ))
            })
    }
}
