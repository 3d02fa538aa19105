//! EC2 instances for fencing: their state, stop (optionally forced), start. Terminate
//! is not here on purpose: an isolated primary's disk is evidence.

use super::call::Api;
use super::xml::Element;

/// The query API's version.
const VERSION: &str = "2016-11-15";
const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// An instance's state name (`pending`, `running`, `stopping`, `stopped`,
/// `shutting-down`, `terminated`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceState {
    /// `i-0123…`.
    pub id: String,
    /// Its state's name.
    pub state: String,
}

fn form(action: &str, ids: &[&str], extra: &[(&str, &str)]) -> Vec<u8> {
    let mut pairs = vec![format!("Action={action}"), format!("Version={VERSION}")];
    for (i, id) in ids.iter().enumerate() {
        pairs.push(format!(
            "InstanceId.{}={}",
            i + 1,
            super::sigv4::uri_encode(id)
        ));
    }
    for (k, v) in extra {
        pairs.push(format!("{k}={}", super::sigv4::uri_encode(v)));
    }
    pairs.join("&").into_bytes()
}

async fn post(api: &Api, what: &str, body: Vec<u8>) -> Result<Element, String> {
    api.call(what, "POST", "/", &[], body, Some(FORM)).await
}

/// The states of `ids`.
pub async fn describe(api: &Api, ids: &[&str]) -> Result<Vec<InstanceState>, String> {
    let x = post(
        api,
        &format!("describing EC2 instance(s) {}", ids.join(", ")),
        form("DescribeInstances", ids, &[]),
    )
    .await?;
    Ok(instance_states(&x))
}

/// Every instance of a `DescribeInstancesResponse`.
pub fn instance_states(x: &Element) -> Vec<InstanceState> {
    let mut out = Vec::new();
    if let Some(reservations) = x.at("reservationSet") {
        for r in reservations.all("item") {
            if let Some(instances) = r.at("instancesSet") {
                for i in instances.all("item") {
                    out.push(InstanceState {
                        id: i.text_at("instanceId").unwrap_or_default().to_owned(),
                        state: i
                            .text_at("instanceState/name")
                            .unwrap_or_default()
                            .to_owned(),
                    });
                }
            }
        }
    }
    out
}

/// Stops `id` (`force`: without waiting for the OS to shut down).
pub async fn stop(api: &Api, id: &str, force: bool) -> Result<(), String> {
    let extra: &[(&str, &str)] = if force { &[("Force", "true")] } else { &[] };
    post(
        api,
        &format!("stopping EC2 instance {id}"),
        form("StopInstances", &[id], extra),
    )
    .await
    .map(drop)
}

/// Starts `id`.
pub async fn start(api: &Api, id: &str) -> Result<(), String> {
    post(
        api,
        &format!("starting EC2 instance {id}"),
        form("StartInstances", &[id], &[]),
    )
    .await
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of AWS's documented `DescribeInstances` answer.
    #[test]
    fn instance_states_are_read() {
        let x = super::super::xml::parse(
            r#"<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>8f7724cf</requestId>
  <reservationSet><item><reservationId>r-1</reservationId><instancesSet>
    <item><instanceId>i-0a</instanceId><instanceState><code>16</code><name>running</name></instanceState></item>
    <item><instanceId>i-0b</instanceId><instanceState><code>80</code><name>stopped</name></instanceState></item>
  </instancesSet></item></reservationSet>
</DescribeInstancesResponse>"#,
        )
        .expect("xml");
        let s = instance_states(&x);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].state, "running");
        assert_eq!((s[1].id.as_str(), s[1].state.as_str()), ("i-0b", "stopped"));
    }

    #[test]
    fn the_form_names_each_instance() {
        let f =
            String::from_utf8(form("StopInstances", &["i-1"], &[("Force", "true")])).expect("utf8");
        assert_eq!(
            f,
            "Action=StopInstances&Version=2016-11-15&InstanceId.1=i-1&Force=true"
        );
    }
}
