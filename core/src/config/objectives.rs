//! What an environment's incidents are measured against, as configured: the recovery
//! time and point objectives and the figures of the downtime cost estimate. The store
//! copies them onto each incident and computes with them (`store::objectives`).

use serde::{Deserialize, Serialize};

/// An environment's targets and the figures of its cost estimate; every field may be
/// left out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Objectives {
    /// Recovery time objective, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto_secs: Option<u64>,
    /// Recovery point objective, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_secs: Option<u64>,
    /// Transactions per second the environment serves when healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_per_sec: Option<f64>,
    /// Average value of one transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_value: Option<f64>,
    /// The value's currency as shown (`$`, `EUR`...); `$` when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

impl Objectives {
    /// Whether nothing is configured.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}
