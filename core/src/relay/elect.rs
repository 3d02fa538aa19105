//! Relays of one configuration elect a leader on the environment's etcd (its election
//! API, on a lease): only the leader serves consoles; the others keep their engines
//! running, so their view is warm, and tell consoles where the leader is.
//!
//! - Each relay grants itself a lease of `ttl_secs`, renews it every third of that and
//!   campaigns under `switchboard/relay/<environment>` with its advertised address. etcd
//!   answers the campaign when the relay leads: when the leader's key is gone, which a
//!   dead leader's expiring lease does within the TTL.
//! - A leader whose lease is lost (etcd refused a renewal, or cannot be reached) steps
//!   down at once: its consoles' streams end, saying so, and they find the new leader.
//! - While it waits, a relay asks who leads once a second, for the consoles it turns
//!   away.

use std::time::Duration;

use etcd_client::Client;
use tokio::sync::watch;

use crate::config::{Election, Environment};
use crate::sources::etcd::{EtcdConfig, normalize_endpoint, stream_options};
use crate::workflow::lock;

/// Who leads, as a relay knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Leadership {
    /// This relay leads (always, for a relay that does not elect).
    pub leading: bool,
    /// Where the leader is, if known.
    pub leader: Option<String>,
}

/// Runs the election for `env`'s relays until the runtime stops, saying who leads on
/// `tx`. An environment without an etcd cannot elect: said once, and this relay never
/// leads.
pub(super) async fn run(env: Environment, election: Election, tx: watch::Sender<Leadership>) {
    let Some(cfg) = lock::etcd_of(&env).cloned() else {
        tracing::error!(
            "serve.elect needs an etcd source in environment {}; this relay stays a standby",
            env.name
        );
        return;
    };
    let name = format!("switchboard/relay/{}", env.name);
    loop {
        let why = Box::pin(term(&cfg, &name, &election, &tx)).await;
        tx.send_replace(Leadership::default());
        tracing::warn!("relay election: {why}; campaigning again");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// One term: a lease, a campaign, leading until the lease is lost. Returns why it ended.
async fn term(
    cfg: &EtcdConfig,
    name: &str,
    election: &Election,
    tx: &watch::Sender<Leadership>,
) -> String {
    let mut client = match lock::connect(cfg).await {
        Ok(c) => c,
        Err(e) => return e,
    };
    let ttl = election.ttl_secs;
    let lease = match client.lease_grant(ttl, None).await {
        Ok(l) => l.id(),
        Err(e) => return format!("etcd cannot grant a lease: {e}"),
    };
    let lost = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    let endpoints: Vec<String> = cfg
        .endpoints
        .iter()
        .map(|e| normalize_endpoint(e))
        .collect();
    let keeper = match stream_options(cfg) {
        Ok(opts) => match Client::connect(endpoints.clone(), Some(opts)).await {
            Ok(streamer) => tokio::spawn(lock::keep_alive(
                streamer,
                lease,
                ttl,
                std::sync::Arc::clone(&lost),
            )),
            Err(e) => return format!("etcd: {e}"),
        },
        Err(e) => return e,
    };
    // The campaign waits for as long as another leads: a client without a per-call
    // bound, beside one that asks who leads.
    let campaign = async {
        let mut c = Client::connect(endpoints, Some(stream_options(cfg)?))
            .await
            .map_err(|e| format!("etcd: {e}"))?;
        c.campaign(name, election.advertise.clone(), lease)
            .await
            .map_err(|e| format!("etcd refused the campaign: {e}"))
    };
    let watch_leader = async {
        let mut c = client.clone();
        loop {
            if let Ok(r) = c.leader(name).await {
                let leader = r
                    .kv()
                    .map(|kv| String::from_utf8_lossy(kv.value()).into_owned());
                tx.send_if_modified(|l| {
                    let changed = l.leader != leader;
                    l.leader.clone_from(&leader);
                    changed
                });
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    let won = tokio::select! {
        r = campaign => r,
        () = watch_leader => Err("unreachable".into()),
    };
    if let Err(e) = won {
        keeper.abort();
        client.lease_revoke(lease).await.ok();
        return e;
    }
    tracing::warn!("this relay leads ({})", election.advertise);
    tx.send_replace(Leadership {
        leading: true,
        leader: Some(election.advertise.clone()),
    });
    // Lead until the lease is lost.
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if let Some(why) = lost.lock().ok().and_then(|l| l.clone()) {
            keeper.abort();
            return format!("the leader's lease is lost ({why})");
        }
        if keeper.is_finished() {
            return "the leader's lease keeper stopped".into();
        }
    }
}
