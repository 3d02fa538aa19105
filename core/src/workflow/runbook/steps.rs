//! How each kind of runbook step is carried out: the DCS's quorum read fresh, database
//! sessions read and
//! terminated over the `postgres` source's connection, a deployment scaled and waited
//! for, a readiness URL checked, a manual step waited for, and the same steps on the
//! drill's fleet.

use std::time::Duration;

use super::{Bound, Context};
use crate::config::SourceConfig;

/// A database, deployment or readiness step on the drill's fleet.
pub(super) async fn drill_step(
    ctx: &Context<'_>,
    journaled: &crate::workflow::Journaled<'_>,
    step: &Bound,
) -> Result<String, String> {
    use crate::sources::drill::DrillAction;
    let drill = ctx.drill.as_ref().ok_or("no drill")?;
    let settle = |action: DrillAction, secs: u64| async move {
        let words = drill.act(action.clone()).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while tokio::time::Instant::now() < deadline {
            if let Some(seen) = crate::workflow::drill::took_effect(&action, &drill.view().await?) {
                return Ok(format!("{words}; {seen}"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(format!(
            "{words}, but the fleet did not show it within {secs} s (DRILL)"
        ))
    };
    match step {
        Bound::Quorum(_) => {
            let (holds, words) = drill.view().await?.dcs;
            if holds {
                Ok(format!("{words} (DRILL)"))
            } else {
                Err(format!(
                    "{words}: deciding a failover now could split the brain (DRILL)"
                ))
            }
        }
        Bound::Sessions(_) => Ok(drill
            .view()
            .await?
            .sessions
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", ")
            + " (DRILL)"),
        Bound::Terminate { .. } => settle(DrillAction::TerminateSessions, 10).await,
        Bound::Scale(service, counts) => {
            let mut said = Vec::new();
            for n in counts {
                let words = settle(
                    DrillAction::Scale {
                        service: service.clone(),
                        replicas: *n as usize,
                    },
                    15,
                )
                .await?;
                journaled
                    .step("verify", &format!("{service} at {n} (DRILL)"), "ok", &words)
                    .map_err(|e| e.to_string())?;
                said.push(words);
            }
            Ok(said.join("; "))
        }
        Bound::Http(url, n) => {
            let service = url.strip_prefix("drill://").unwrap_or(url).to_owned();
            let mut row = 0;
            for _ in 0..n + 15 {
                let v = drill.view().await?;
                let mine: Vec<_> = v
                    .instances
                    .iter()
                    .filter(|i| i.service == service)
                    .collect();
                let on: Vec<_> = mine.iter().filter(|i| i.state != "OUT").collect();
                if !on.is_empty() && on.iter().all(|i| i.health == crate::model::Health::Healthy) {
                    row += 1;
                    if row >= *n {
                        return Ok(format!(
                            "{service}: readiness green {n} times in a row (DRILL)"
                        ));
                    }
                } else {
                    row = 0;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(format!(
                "{service}'s readiness was not green {n} times in a row (DRILL)"
            ))
        }
        Bound::Workflow(..) | Bound::Manual(_) | Bound::Skip(_) => Err("not a drill step".into()),
    }
}

/// A connection to the `postgres` source `name`.
pub(crate) async fn connect(
    ctx: &Context<'_>,
    name: &str,
) -> Result<tokio_postgres::Client, String> {
    let cfg = ctx
        .environment
        .source
        .iter()
        .find_map(|s| match s {
            SourceConfig::Postgres(p) if p.name == name => Some(p),
            _ => None,
        })
        .ok_or_else(|| format!("no postgres source named {name:?}"))?;
    let (dsn, from) = cfg.dsn()?;
    // The source's own reading of its DSN (sslmode, TLS files, PG* variables, service
    // and password files), so the runbook reaches the server as the source does.
    let params =
        crate::sources::libpq::Params::resolve(&dsn, &crate::sources::libpq::process_env())
            .map_err(|e| format!("{name}: {e} ({from})"))?;
    drop(dsn);
    let bound = ctx.timeout * 5;
    let connected = tokio::time::timeout(bound, crate::sources::pg_tls::connect(&params, bound))
        .await
        .map_err(|_| format!("{name}: no connection within {bound:?}"))?
        .map_err(|e| format!("{name}: {e}"))?;
    Ok(connected.client)
}

/// The etcd source `name`'s quorum, read fresh from every member: the words when it
/// holds, why not otherwise.
pub(super) async fn quorum(ctx: &Context<'_>, name: &str) -> Result<String, String> {
    let cfg = ctx
        .environment
        .source
        .iter()
        .find_map(|s| match s {
            SourceConfig::Etcd(e) if e.name == name => Some(e),
            _ => None,
        })
        .ok_or_else(|| format!("no etcd source named {name:?}"))?;
    let (holds, words) = crate::workflow::lock::quorum_of(cfg, ctx.timeout).await;
    if holds {
        Ok(format!("{name}: {words}"))
    } else {
        Err(format!(
            "{name}: {words}: deciding a failover now could split the brain"
        ))
    }
}

/// Sessions by state, in words.
pub(super) async fn sessions(ctx: &Context<'_>, db: &str) -> Result<String, String> {
    let client = connect(ctx, db).await?;
    let rows = client
        .query(
            "SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity
             WHERE backend_type = 'client backend' GROUP BY 1 ORDER BY 2 DESC",
            &[],
        )
        .await
        .map_err(|e| format!("{db}: {}", crate::sources::pg::words(&e)))?;
    Ok(rows
        .iter()
        .map(|r| format!("{} {}", r.get::<_, i64>(1), r.get::<_, String>(0)))
        .collect::<Vec<_>>()
        .join(", "))
}

/// `pg_terminate_backend` of the matching sessions; how many.
pub(super) async fn terminate(
    ctx: &Context<'_>,
    db: &str,
    idle: bool,
    older_than: Option<u64>,
) -> Result<String, String> {
    if !idle && older_than.is_none() {
        return Err("terminate_sessions needs idle_in_transaction or older_than_secs".into());
    }
    let client = connect(ctx, db).await?;
    let older = older_than.map_or(-1.0, |s| s as f64);
    let rows = client
        .query(
            "SELECT pid, coalesce(state, ''), pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
               AND (($1::bool AND state LIKE 'idle in transaction%')
                    OR ($2::float8 >= 0 AND state <> 'idle'
                        AND now() - coalesce(xact_start, query_start)
                            > make_interval(secs => $2::float8)))",
            &[&idle, &older],
        )
        .await
        .map_err(|e| format!("{db}: {}", crate::sources::pg::words(&e)))?;
    let ended = rows.iter().filter(|r| r.get::<_, bool>(2)).count();
    Ok(format!(
        "{ended} of {} matching session(s) terminated",
        rows.len()
    ))
}

/// GET `url` until it answered 2xx `n` times in a row (up to `n` + 10 tries, 1 s apart).
pub(super) async fn http_check(ctx: &Context<'_>, url: &str, n: u32) -> Result<String, String> {
    let client = crate::sources::http::client(ctx.timeout)?;
    let (mut row, mut last) = (0, String::new());
    for _ in 0..n + 10 {
        match crate::sources::http::get_ok(&client, url, ctx.timeout).await {
            Ok(_) => {
                row += 1;
                if row >= n {
                    return Ok(format!("{url} answered 2xx {n} times in a row"));
                }
            }
            Err(e) => {
                row = 0;
                last = e;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(format!(
        "{url} did not answer 2xx {n} times in a row: {last}"
    ))
}

/// Waits until the operator says the manual step is done; a cancel or the safety valve
/// stops the wait.
pub(super) async fn wait_for_human(ctx: &Context<'_>, text: &str) -> Result<String, String> {
    ctx.control.ask_human(text);
    loop {
        if ctx.control.take_ack() {
            return Ok("done, the operator says".to_owned());
        }
        if let Some(why) = ctx.control.stopped() {
            ctx.control.ask_human("");
            return Err(format!("{why} while waiting for a human: {text}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Scales `source/namespace/name` to each count in turn, each ready before the next.
pub(super) async fn scale(
    ctx: &Context<'_>,
    journaled: &crate::workflow::Journaled<'_>,
    deployment: &str,
    counts: &[u32],
) -> Result<String, String> {
    let mut parts = deployment.splitn(3, '/');
    let (source, ns, name) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let cfg = ctx
        .environment
        .source
        .iter()
        .find_map(|s| match s {
            SourceConfig::Kubernetes(k) if k.name == source => Some(k),
            _ => None,
        })
        .ok_or_else(|| format!("no kubernetes source named {source:?}"))?;
    let mut said = Vec::new();
    for n in counts {
        let ready =
            crate::sources::kubernetes::scale(cfg, ns, name, *n, Duration::from_mins(2)).await?;
        journaled
            .step("verify", &format!("{deployment} at {n}"), "ok", &ready)
            .map_err(|e| e.to_string())?;
        said.push(ready);
    }
    Ok(said.join("; "))
}
