//! What workflows act through, as configured: an environment's fence devices and the
//! runbooks and experiments it enables. Plain data; the workflow engine reads it
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
    /// The agent: a name on `PATH` (`fence_ipmilan`) or a path. Empty for an `ec2`
    /// device.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub agent: String,
    /// An EC2 instance stopped and started through the AWS API instead of an agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec2: Option<Ec2Fence>,
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

/// An EC2 instance as a fence device: `off` stops it, `on` starts it, `status` reads
/// its state; it is fenced when it reads `stopped`. Terminate is never offered: an
/// isolated primary's disk is evidence. Credentials as the AWS CLI finds them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ec2Fence {
    /// `i-0123456789abcdef0`.
    pub instance_id: String,
    /// The region (else `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The profile in `~/.aws/credentials` and `config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The API's base URL, for an emulator or a VPC endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Stop without letting the OS shut down (`Force`): for an instance whose OS no
    /// longer answers; its file system may need a check afterwards.
    #[serde(default)]
    pub force: bool,
}

impl FenceDevice {
    /// What fences: the agent, or `EC2 i-0123…`.
    pub fn mechanism(&self) -> String {
        match &self.ec2 {
            Some(e) if e.force => format!("EC2 {}, forced stop", e.instance_id),
            Some(e) => format!("EC2 {}", e.instance_id),
            None => self.agent.clone(),
        }
    }

    /// Whether it is set up as one way of fencing.
    pub fn validate(&self) -> Result<(), String> {
        match (&self.ec2, self.agent.trim().is_empty()) {
            (Some(_), false) => Err(format!(
                "fence device {}: both `agent` and `ec2`: one device fences one way",
                self.name
            )),
            (None, true) => Err(format!(
                "fence device {}: no `agent` (fence_ipmilan, fence_redfish...) and no `ec2`",
                self.name
            )),
            (Some(e), true) if !e.instance_id.starts_with("i-") => Err(format!(
                "fence device {}: ec2 instance_id {:?} is not an instance id (i-...)",
                self.name, e.instance_id
            )),
            _ => Ok(()),
        }
    }
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

/// An environment's experiment (game day): which one, its variables, and whether its
/// recovery runbook may start by itself here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// A shipped experiment's name, or the name of the one in `file`.
    pub name: String,
    /// An experiment file (TOML), when it is not a shipped one.
    #[serde(default)]
    pub file: Option<String>,
    /// Values of its `{var}`s.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// The experiment's recovery runbook may start by itself (after a countdown any
    /// operator can stop) when the experiment asks for it too. Off unless said.
    #[serde(default)]
    pub automatic_recovery: bool,
}
