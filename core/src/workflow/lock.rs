//! One workflow per target across every console: an etcd lease lock.
//!
//! The key is `switchboard/locks/<environment>/<target>`; its value says who holds it
//! and for what (`ana@laptop: drain edge/be_web/web1`). It is written only if absent
//! (a transaction comparing the key's create revision with 0), bound to a lease so a
//! console that dies mid-run frees it when the lease expires ([`LEASE_SECS`]), and
//! deleted when the run ends.
//!
//! Taking it is also the quorum guard: an etcd that has lost quorum cannot grant a
//! lease, so a console on the minority side of a partition is refused.
//!
//! The etcd used is the environment's first `etcd` source. An environment without one
//! has no cross-console lock; the guard says so rather than pretending.

use etcd_client::{Client, Compare, CompareOp, PutOptions, Txn, TxnOp};

use crate::config::{Environment, SourceConfig};
use crate::sources::etcd::{EtcdConfig, normalize_endpoint, options};

/// Lease time-to-live: a dead console's lock is freed after this long.
pub const LEASE_SECS: i64 = 30;

/// A held lock; release it when the run ends.
pub struct Held {
    client: Client,
    key: String,
    lease: i64,
}

/// The key for `target` in `environment`.
pub fn key(environment: &str, target: &str) -> String {
    format!("switchboard/locks/{environment}/{target}")
}

fn etcd_of(env: &Environment) -> Option<&EtcdConfig> {
    env.source.iter().find_map(|s| match s {
        SourceConfig::Etcd(e) => Some(e),
        _ => None,
    })
}

async fn connect(cfg: &EtcdConfig) -> Result<Client, String> {
    let endpoints: Vec<String> = cfg
        .endpoints
        .iter()
        .map(|e| normalize_endpoint(e))
        .collect();
    Client::connect(endpoints, Some(options(cfg)?))
        .await
        .map_err(|e| format!("etcd: {e}"))
}

/// Who holds the lock on `target`, if anyone (`None` also when there is no etcd).
pub async fn holder(env: &Environment, target: &str) -> Result<Option<String>, String> {
    let Some(cfg) = etcd_of(env) else {
        return Ok(None);
    };
    let mut client = connect(cfg).await?;
    let resp = client
        .get(key(&env.name, target), None)
        .await
        .map_err(|e| format!("etcd: {e}"))?;
    Ok(resp
        .kvs()
        .first()
        .map(|kv| String::from_utf8_lossy(kv.value()).into_owned()))
}

/// Whether the environment has an etcd to lock in.
pub fn available(env: &Environment) -> bool {
    etcd_of(env).is_some()
}

/// Takes the lock for `target`, saying `purpose`; refuses with the holder when taken,
/// and with etcd's error when it cannot grant a lease (no quorum).
pub async fn acquire(
    env: &Environment,
    target: &str,
    purpose: &str,
) -> Result<Option<Held>, String> {
    let Some(cfg) = etcd_of(env) else {
        return Ok(None);
    };
    let mut client = connect(cfg).await?;
    let lease = client
        .lease_grant(LEASE_SECS, None)
        .await
        .map_err(|e| format!("etcd cannot grant a lease (no quorum, or unreachable): {e}"))?
        .id();
    let k = key(&env.name, target);
    let txn = Txn::new()
        .when([Compare::create_revision(k.clone(), CompareOp::Equal, 0)])
        .and_then([TxnOp::put(
            k.clone(),
            purpose,
            Some(PutOptions::new().with_lease(lease)),
        )])
        .or_else([TxnOp::get(k.clone(), None)]);
    let resp = client.txn(txn).await.map_err(|e| format!("etcd: {e}"))?;
    if resp.succeeded() {
        return Ok(Some(Held {
            client,
            key: k,
            lease,
        }));
    }
    let by = resp
        .op_responses()
        .into_iter()
        .find_map(|op| match op {
            etcd_client::TxnOpResponse::Get(g) => g
                .kvs()
                .first()
                .map(|kv| String::from_utf8_lossy(kv.value()).into_owned()),
            _ => None,
        })
        .unwrap_or_else(|| "another console".to_owned());
    let _ = client.lease_revoke(lease).await;
    Err(format!("{target} is locked by {by}"))
}

impl Held {
    /// Frees the lock.
    pub async fn release(mut self) {
        let _ = self.client.delete(self.key.clone(), None).await;
        let _ = self.client.lease_revoke(self.lease).await;
    }
}
