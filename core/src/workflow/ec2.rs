//! An EC2 instance as a fence device: the fence-agent actions (`status`, `off`, `on`)
//! done through the EC2 API, with the fence-agent exit codes, so fencing levels, the
//! journal and the last-healthy guard treat it as any other device.
//!
//! `status`: `running` or `pending` is ON (exit 0), `stopped` (or `terminated`, which
//! this console never causes) is OFF (exit 2), `stopping` and `shutting-down` are not
//! yet either (exit 1, said so): a fence is verified only once the instance reads
//! `stopped`. `off` is `StopInstances` (with `Force` when configured), `on` is
//! `StartInstances`.

use std::time::{Duration, Instant};

use super::fence::AgentResult;
use crate::config::Ec2Fence;
use crate::sources::aws::call::Api;
use crate::sources::aws::{AwsRef, ec2};

/// The AWS reference of a device.
fn aws(device: &Ec2Fence) -> AwsRef {
    AwsRef {
        profile: device.profile.clone(),
        region: device.region.clone(),
        endpoint: device.endpoint.clone(),
    }
}

/// Runs a fence-agent `action` on the instance.
pub async fn call(device: &Ec2Fence, action: &str, timeout: Duration) -> AgentResult {
    let started = Instant::now();
    let done = |code: i32, said: String| AgentResult {
        code: Some(code),
        said,
        millis: started.elapsed().as_millis(),
    };
    let api = match Api::ec2(&aws(device), timeout) {
        Ok(a) => a,
        Err(e) => return done(1, e),
    };
    let id = device.instance_id.as_str();
    let answer = match action {
        "status" => {
            return status(&api, id)
                .await
                .map_or_else(|e| done(1, e), |(c, s)| done(c, s));
        }
        "off" => ec2::stop(&api, id, device.force).await.map(|()| {
            if device.force {
                format!("{id}: forced stop requested")
            } else {
                format!("{id}: stop requested")
            }
        }),
        "on" => ec2::start(&api, id)
            .await
            .map(|()| format!("{id}: start requested")),
        other => Err(format!(
            "{id}: the EC2 device does not do `{other}` (status, off and on only; never terminate)"
        )),
    };
    answer.map_or_else(|e| done(1, e), |s| done(0, s))
}

/// The instance's state as a fence-agent status exit code, and in words.
async fn status(api: &Api, id: &str) -> Result<(i32, String), String> {
    let states = ec2::describe(api, &[id]).await?;
    let state = states
        .iter()
        .find(|s| s.id == id)
        .map(|s| s.state.as_str())
        .ok_or_else(|| {
            format!(
                "EC2 has no instance {id} at {} (wrong region or account?)",
                api.endpoint()
            )
        })?;
    Ok(match state {
        "running" | "pending" => (0, format!("{id} is {state}")),
        "stopped" | "terminated" => (2, format!("{id} is {state}")),
        _ => (1, format!("{id} is {state}, not yet stopped or running")),
    })
}
