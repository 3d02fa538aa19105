//! What workflows act through, as configured: an environment's fence devices and the
//! runbooks it enables. Plain data; the workflow engine reads it
//! (`workflow::fence`, `workflow::runbook`), this module knows nothing of how.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One fence device of one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FenceDevice {
    /// The device's name (`db1-bmc`).
    pub name: String,
    /// The node it fences.
    pub node: String,
    /// Nodes of one group are peers for the last-healthy guard.
    #[serde(default = "default_group")]
    pub group: String,
    /// Fencing level: 1 is tried first.
    #[serde(default = "default_level")]
    pub level: u32,
    /// The agent: a name on `PATH` (`fence_ipmilan`) or a path.
    pub agent: String,
    /// Options given to the agent on stdin (`ip`, `username`, `plug`...).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Options whose values are read from environment variables (`password =
    /// "BMC_PASSWORD"`); never written anywhere.
    #[serde(default)]
    pub secret_env: BTreeMap<String, String>,
    /// Bound on one agent call, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_group() -> String {
    "default".to_owned()
}

const fn default_level() -> u32 {
    1
}

const fn default_timeout() -> u64 {
    60
}

/// An environment's runbook: which one, and its variables.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunbookConfig {
    /// A shipped runbook's name, or the name of the one in `file`.
    pub name: String,
    /// A runbook file (TOML), when it is not a shipped one.
    #[serde(default)]
    pub file: Option<String>,
    /// Values of its `{var}`s.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
}
