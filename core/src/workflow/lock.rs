//! One workflow per target across every console: an etcd lease lock.
//!
//! The key is `switchboard/locks/<environment>/<target>`; its value says who holds it
//! and for what (`ana@laptop: drain edge/be_web/web1`). It is written only if absent
//! (a transaction comparing the key's create revision with 0), bound to a lease so a
//! console that dies mid-run frees it when the lease expires ([`LEASE_SECS`]), and
//! deleted when the run ends. While a run holds it, a keep-alive renews the lease every
//! third of its time-to-live, so a run longer than [`LEASE_SECS`] keeps its lock; a
//! renewal etcd refuses (quorum lost mid-run) is recorded and [`Held::lost`] says so.
//!
//! Taking it is also the quorum guard: an etcd that has lost quorum cannot grant a
//! lease, so a console on the minority side of a partition is refused.
//!
//! The etcd used is the environment's first `etcd` source. An environment without one
//! has no cross-console lock; the guard says so rather than pretending.

use etcd_client::{Client, Compare, CompareOp, PutOptions, Txn, TxnOp};

use crate::config::{Environment, SourceConfig};
use crate::sources::etcd::{EtcdConfig, normalize_endpoint, options, stream_options};

/// Lease time-to-live: a dead console's lock is freed after this long.
pub const LEASE_SECS: i64 = 30;

/// A held lock; release it when the run ends.
pub struct Held {
    client: Client,
    key: String,
    lease: i64,
    keeper: tokio::task::JoinHandle<()>,
    lost: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

/// The key for `target` in `environment`.
pub fn key(environment: &str, target: &str) -> String {
    format!("switchboard/locks/{environment}/{target}")
}

/// The environment's first etcd source: the one its lock and its relays' election use.
pub(crate) fn etcd_of(env: &Environment) -> Option<&EtcdConfig> {
    env.source.iter().find_map(|s| match s {
        SourceConfig::Etcd(e) => Some(e),
        _ => None,
    })
}

/// A client of the etcd of `cfg`, each call bounded.
pub(crate) async fn connect(cfg: &EtcdConfig) -> Result<Client, String> {
    let endpoints: Vec<String> = cfg
        .endpoints
        .iter()
        .map(|e| normalize_endpoint(e))
        .collect();
    Client::connect(endpoints, Some(options(cfg)?))
        .await
        .map_err(|e| words(cfg, &e))
}

/// An etcd error in an operator's words (a TLS failure named as such), for `cfg`'s
/// settings.
fn words(cfg: &EtcdConfig, e: &etcd_client::Error) -> String {
    format!(
        "etcd: {}",
        crate::sources::error_words_for(e, cfg.tls.as_ref())
    )
}

/// An etcd error worth asking again: right after a member dies the client may still
/// pick it ("tcp connect error"), and the cluster answers "leader changed" until it has
/// elected another leader (a fraction of a second). A lost quorum is not transient.
pub(super) fn transient(e: &etcd_client::Error) -> bool {
    let s = e.to_string();
    s.contains("leader changed") || s.contains("tcp connect error")
}

/// Runs `call` again (up to 6 times, 250 ms apart) while it fails transiently.
pub(super) async fn again<T, F, Fut>(mut call: F) -> Result<T, etcd_client::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, etcd_client::Error>>,
{
    let mut tries = 0;
    loop {
        match call().await {
            Err(e) if tries < 6 && transient(&e) => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            r => return r,
        }
    }
}

/// Who holds the lock on `target`, if anyone (`None` also when there is no etcd).
pub async fn holder(env: &Environment, target: &str) -> Result<Option<String>, String> {
    let Some(cfg) = etcd_of(env) else {
        return Ok(None);
    };
    let client = connect(cfg).await?;
    let k = key(&env.name, target);
    let resp = again(|| {
        let (mut c, k) = (client.clone(), k.clone());
        async move { c.get(k, None).await }
    })
    .await
    .map_err(|e| words(cfg, &e))?;
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
    acquire_for(env, target, purpose, LEASE_SECS).await
}

/// [`acquire`] with a lease of `ttl_secs` (at least 3 s: renewed every third of it).
pub async fn acquire_for(
    env: &Environment,
    target: &str,
    purpose: &str,
    ttl_secs: i64,
) -> Result<Option<Held>, String> {
    let Some(cfg) = etcd_of(env) else {
        return Ok(None);
    };
    let ttl_secs = ttl_secs.max(3);
    let mut client = connect(cfg).await?;
    let lease = again(|| {
        let mut c = client.clone();
        async move { c.lease_grant(ttl_secs, None).await }
    })
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
    let resp = again(|| {
        let (mut c, txn) = (client.clone(), txn.clone());
        async move { c.txn(txn).await }
    })
    .await
    .map_err(|e| words(cfg, &e))?;
    if resp.succeeded() {
        let lost = std::sync::Arc::new(std::sync::Mutex::new(None));
        // The keep-alive is one long stream: on a client without a per-call bound,
        // which would close it after the first one.
        let endpoints: Vec<String> = cfg
            .endpoints
            .iter()
            .map(|e| normalize_endpoint(e))
            .collect();
        let keeper = match Client::connect(endpoints, Some(stream_options(cfg)?)).await {
            Ok(streamer) => tokio::spawn(keep_alive(streamer, lease, ttl_secs, lost.clone())),
            Err(e) => {
                let why = words(cfg, &e);
                if let Ok(mut l) = lost.lock() {
                    *l = Some(why);
                }
                tokio::spawn(async {})
            }
        };
        return Ok(Some(Held {
            client,
            key: k,
            lease,
            keeper,
            lost,
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

/// Renews `lease` every third of its time-to-live until aborted; the first renewal etcd
/// refuses or does not answer is written to `lost`.
pub(crate) async fn keep_alive(
    mut client: Client,
    lease: i64,
    ttl_secs: i64,
    lost: std::sync::Arc<std::sync::Mutex<Option<String>>>,
) {
    let period = std::time::Duration::from_secs((ttl_secs / 3).max(1).unsigned_abs());
    let why = match client.lease_keep_alive(lease).await {
        Err(e) => format!("etcd: {e}"),
        Ok((mut keeper, mut stream)) => loop {
            tokio::time::sleep(period).await;
            if let Err(e) = keeper.keep_alive().await {
                break format!("etcd: {e}");
            }
            match tokio::time::timeout(period, stream.message()).await {
                Ok(Ok(Some(r))) if r.ttl() > 0 => {}
                Ok(Ok(Some(_))) => break "etcd says the lease expired".to_owned(),
                Ok(Ok(None)) => break "etcd closed the keep-alive stream".to_owned(),
                Ok(Err(e)) => break format!("etcd: {e}"),
                Err(_) => break "etcd did not answer the keep-alive".to_owned(),
            }
        },
    };
    if let Ok(mut l) = lost.lock() {
        *l = Some(why);
    }
}

impl Held {
    /// Resolves once the lease could not be renewed (checked every 100 ms).
    pub async fn lost_wait(&self) {
        loop {
            if self.lost().is_some() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Why the lease could not be renewed, once it could not: the lock may be gone.
    pub fn lost(&self) -> Option<String> {
        self.lost.lock().ok().and_then(|l| l.clone())
    }

    /// Frees the lock.
    pub async fn release(mut self) {
        let _ = self.client.delete(self.key.clone(), None).await;
        let _ = self.client.lease_revoke(self.lease).await;
    }
}

impl Drop for Held {
    /// A lock dropped without [`Held::release`] (a run that panicked) stops being renewed,
    /// so etcd frees it when its lease runs out.
    fn drop(&mut self) {
        self.keeper.abort();
    }
}

/// A fresh quorum reading of the etcd cluster `cfg`: each endpoint asked for its status
/// on its own connection. Quorum holds when a majority of the endpoints answer and
/// they name one leader. Returns (holds, in words).
pub async fn quorum_of(cfg: &EtcdConfig, timeout: std::time::Duration) -> (bool, String) {
    let eps: Vec<String> = cfg
        .endpoints
        .iter()
        .map(|e| normalize_endpoint(e))
        .collect();
    let asks = eps.iter().map(|ep| async move {
        let ask = async {
            let mut c = Client::connect([ep.clone()], Some(options(cfg)?))
                .await
                .map_err(|e| words(cfg, &e))?;
            c.status().await.map_err(|e| words(cfg, &e))
        };
        tokio::time::timeout(timeout, ask)
            .await
            .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))
            .and_then(|r| r)
    });
    let answers = futures_util::future::join_all(asks).await;
    let mut leaders: Vec<u64> = answers
        .iter()
        .filter_map(|a| a.as_ref().ok())
        .map(etcd_client::StatusResponse::leader)
        .filter(|l| *l != 0)
        .collect();
    leaders.sort_unstable();
    leaders.dedup();
    let reachable = answers.iter().filter(|a| a.is_ok()).count();
    let voters = eps.len();
    let needed = voters / 2 + 1;
    let holds = reachable >= needed && leaders.len() == 1;
    let words = if leaders.len() > 1 {
        format!(
            "{reachable} of {voters} members answer but name {} different leaders: split",
            leaders.len()
        )
    } else if reachable < needed {
        format!("{reachable} of {voters} members answer: quorum ({needed}) lost")
    } else if leaders.is_empty() {
        format!("{reachable} of {voters} members answer but none knows a leader")
    } else {
        format!("{reachable} of {voters} members answer, one leader")
    };
    (holds, words)
}
