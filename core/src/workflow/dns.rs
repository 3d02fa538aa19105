//! The DNS record target (`dns-source/name`): `dns-failover` points a public name at its
//! standby value (the standby region's name or addresses), `dns-restore` back at its
//! primary value, in one RFC 2136 update to the zone's primary server, signed with the
//! source's TSIG key.
//!
//! The plan reads the record fresh from every authoritative server of the zone (not a
//! resolver): they must agree, since a secondary that missed the last change would make
//! "what the plan saw" a guess. Guards besides the common ones: the record is not there
//! yet, and the value it goes to is healthy now (its `standby_check` URL answers 2xx,
//! where one is configured). The update is a compare-and-swap: its prerequisite is the
//! value the plan read, so a record someone changed since is refused by the server, not
//! overwritten. Verified when every authoritative server answers the new value; else
//! the update is reversed (same compare-and-swap, the other way). The report says when
//! resolvers that cached the old answer will have followed: within its TTL.

use std::time::Duration;

use super::target::{self, BoxFuture, Found, OnDrill, Reach, TargetKind};
use super::{Context, Detail, GuardResult, Journaled, Kind, Offer, Plan, Report, WorkflowError};
use crate::config::{Environment, SourceConfig};
use crate::dns::{self, Answer};
use crate::sources::dns::{DnsConfig, DnsRecord};
use crate::time::Timestamp;

/// How long verification waits for every server to answer the new value.
const VERIFY_SECS: u64 = 30;

/// A record move as planned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    /// The DNS source.
    pub source: String,
    /// The record's name, fully written (`www.example.com`).
    pub name: String,
    /// What every server answered when planned.
    pub from: Answer,
    /// What it becomes.
    pub to: Answer,
}

fn config<'a>(env: &'a Environment, name: &str) -> Result<&'a DnsConfig, WorkflowError> {
    env.source
        .iter()
        .find_map(|s| match s {
            SourceConfig::Dns(d) if d.name == name => Some(d),
            _ => None,
        })
        .ok_or_else(|| {
            WorkflowError::Usage(format!(
                "no dns source named {name:?} in environment {:?}",
                env.name
            ))
        })
}

/// The source and record `target` (`dns-source/name`) names.
fn record<'a>(
    env: &'a Environment,
    target: &str,
) -> Result<(&'a DnsConfig, &'a DnsRecord), WorkflowError> {
    let (source, name) = target
        .split_once('/')
        .ok_or_else(|| WorkflowError::Usage(format!("target {target:?} is not dns-source/name")))?;
    let cfg = config(env, source)?;
    let rec = cfg.record(name).ok_or_else(|| {
        WorkflowError::Usage(format!(
            "{source} watches no record {name:?} (it watches {})",
            cfg.records
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    Ok((cfg, rec))
}

/// Every server's answer for `rec`, in the order of the source's servers.
async fn read_all(
    cfg: &DnsConfig,
    rec: &DnsRecord,
    timeout: Duration,
) -> Result<Vec<dns::ServerAnswer>, WorkflowError> {
    let name = dns::name(&cfg.fqdn(&rec.name)).map_err(WorkflowError::Usage)?;
    let rtype = dns::record_type(&rec.rtype).map_err(WorkflowError::Usage)?;
    let mut out = Vec::new();
    for server in cfg.server_addrs().map_err(WorkflowError::Usage)? {
        out.push((server, dns::ask(server, &name, rtype, timeout).await));
    }
    Ok(out)
}

/// The value every server answers, or why there is none.
fn agreed(reads: &[dns::ServerAnswer]) -> Result<Answer, String> {
    let mut seen: Option<&Answer> = None;
    for (server, read) in reads {
        match read {
            Err(e) => return Err(e.clone()),
            Ok(None) => return Err(format!("{server} has no such record")),
            Ok(Some(a)) => match seen {
                Some(s) if s.values != a.values || s.rtype != a.rtype => {
                    return Err(format!(
                        "the servers disagree: {} on the first, {} on {server}",
                        dns::describe(s),
                        dns::describe(a)
                    ));
                }
                _ => seen = Some(a),
            },
        }
    }
    seen.cloned()
        .ok_or_else(|| "the source lists no server".to_owned())
}

/// The plan of `kind` on `target`.
async fn plan(ctx: &Context<'_>, kind: Kind, target: &str) -> Result<Plan, WorkflowError> {
    let (cfg, rec) = record(ctx.environment, target)?;
    let want = match kind {
        Kind::DnsFailover => rec.standby.as_deref(),
        _ => rec.primary.as_deref(),
    }
    .ok_or_else(|| {
        WorkflowError::Usage(format!(
            "record {} of {} has no `{}` value configured",
            rec.name,
            cfg.name,
            if kind == Kind::DnsFailover {
                "standby"
            } else {
                "primary"
            }
        ))
    })?;
    let reads = read_all(cfg, rec, ctx.timeout).await?;
    let from = agreed(&reads).map_err(|e| WorkflowError::Target(format!("{}: {e}", rec.name)))?;
    let rtype = dns::record_type(&rec.rtype).map_err(WorkflowError::Usage)?;
    let to = Answer {
        rtype: from.rtype.clone(),
        values: dns::values(rtype, want).map_err(|e| {
            WorkflowError::Usage(format!("record {} of {}: {e}", rec.name, cfg.name))
        })?,
        ttl_secs: rec.ttl_secs,
    };
    let now = ctx.clock.now();
    let mut guards = super::common_guards(ctx, target, now).await?;
    guards.push(GuardResult {
        name: "not there yet",
        ok: from.values != to.values,
        reason: format!("every server answers {} now", dns::describe(&from)),
    });
    let check = match &rec.standby_check {
        Some(url) if kind == Kind::DnsFailover => {
            let client =
                crate::sources::http::client(ctx.timeout).map_err(WorkflowError::Target)?;
            match crate::sources::http::get_ok(&client, url, ctx.timeout).await {
                Ok(_) => GuardResult {
                    name: "target healthy",
                    ok: true,
                    reason: format!("{url} answers 2xx"),
                },
                Err(e) => GuardResult {
                    name: "target healthy",
                    ok: false,
                    reason: format!("{url}: {e}"),
                },
            }
        }
        _ => GuardResult {
            name: "target healthy",
            ok: true,
            reason: "no check configured for this value (`standby_check`)".into(),
        },
    };
    guards.push(check);
    // Checked now, not after the confirmation: an update that cannot be signed is refused
    // before anyone types the name.
    guards.push(match cfg.tsig_key() {
        Ok(key) => GuardResult {
            name: "signing key",
            ok: true,
            reason: format!("TSIG key {} ({}) is readable", key.name, key.algorithm),
        },
        Err(e) => GuardResult {
            name: "signing key",
            ok: false,
            reason: e,
        },
    });
    let servers = reads.iter().map(|(s, _)| s.to_string()).collect::<Vec<_>>();
    let fqdn = cfg.fqdn(&rec.name);
    Ok(Plan {
        kind,
        target: target.to_owned(),
        confirm_as: fqdn.clone(),
        environment: ctx.environment.name.clone(),
        before: dns::describe(&from),
        steps: vec![
            format!(
                "RFC 2136 update to {} (zone {}, signed with key {}): if {fqdn} is still {}, replace it with {} (TTL {} s)",
                servers.first().map_or("?", String::as_str),
                cfg.zone,
                cfg.tsig.as_ref().map_or("(none)", |t| t.key_name.as_str()),
                dns::describe(&from),
                dns::describe(&to),
                to.ttl_secs
            ),
            format!(
                "verify: every authoritative server ({}) answers {} (up to {VERIFY_SECS} s); else the update is reversed",
                servers.join(", "),
                dns::describe(&to)
            ),
        ],
        guards,
        made_at: now,
        overrides: Vec::new(),
        approver: None,
        detail: Detail::DnsRecord(Move {
            source: cfg.name.clone(),
            name: fqdn,
            from,
            to,
        }),
    })
}

/// The journaled steps of a run whose checks passed and whose lock is held.
async fn execute(
    ctx: &Context<'_>,
    plan: &Plan,
    m: &Move,
    confirmed: Timestamp,
    operator: &str,
) -> Result<Report, WorkflowError> {
    let cfg = config(ctx.environment, &m.source)?;
    let rec = cfg
        .records
        .iter()
        .find(|r| cfg.fqdn(&r.name) == m.name)
        .ok_or_else(|| {
            WorkflowError::Usage(format!("{} no longer watches {}", m.source, m.name))
        })?;
    let key = cfg.tsig_key().map_err(WorkflowError::Usage)?;
    let servers = cfg.server_addrs().map_err(WorkflowError::Usage)?;
    let primary = *servers
        .first()
        .ok_or_else(|| WorkflowError::Usage(format!("{} lists no server", m.source)))?;
    let zone = dns::name(&cfg.zone).map_err(WorkflowError::Usage)?;
    let name = dns::name(&m.name).map_err(WorkflowError::Usage)?;
    let journaled = Journaled::start(ctx, plan, operator, confirmed)?;
    let mut lines = Vec::new();
    if let Some(r) = journaled.checkpoint("update", &mut lines)? {
        return Ok(r);
    }
    let step = format!("{} -> {}", dns::describe(&m.from), dns::describe(&m.to));
    journaled.step(
        "act",
        &format!("update {} on {primary}", m.name),
        "started",
        &step,
    )?;
    if let Err(e) = dns::swap(primary, &zone, &name, &m.from, &m.to, &key, ctx.timeout).await {
        journaled.step(
            "act",
            &format!("update {}", m.name),
            "failed",
            &e.to_string(),
        )?;
        return journaled.needs_human(lines, format!("the update of {}: {e}", m.name));
    }
    journaled.step("act", &format!("update {}", m.name), "ok", &step)?;
    lines.push(format!("{primary} took the update: {step}"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(VERIFY_SECS);
    let (effect, seen) = loop {
        let reads = match read_all(cfg, rec, ctx.timeout).await {
            Ok(r) => r,
            Err(e) => break (None, e.to_string()),
        };
        let lagging: Vec<String> = reads
            .iter()
            .filter(|(_, r)| !matches!(r, Ok(Some(a)) if a.values == m.to.values))
            .map(|(s, r)| match r {
                Ok(Some(a)) => format!("{s} still answers {}", dns::describe(a)),
                Ok(None) => format!("{s} has no record"),
                Err(e) => e.clone(),
            })
            .collect();
        if lagging.is_empty() {
            let seen = format!(
                "all {} server(s) answer {}",
                reads.len(),
                dns::describe(&m.to)
            );
            break (Some(ctx.clock.now()), seen);
        }
        if tokio::time::Instant::now() >= deadline {
            break (None, lagging.join("; "));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut failed_line = format!(
        "not every server answered the new value within {VERIFY_SECS} s ({seen}); the update was reversed"
    );
    if effect.is_none() {
        // Reverse it: the same compare-and-swap the other way, so nothing is left half-done.
        let back = dns::swap(primary, &zone, &name, &m.to, &m.from, &key, ctx.timeout).await;
        journaled.step(
            "rollback",
            &format!("update {} back", m.name),
            if back.is_ok() { "ok" } else { "failed" },
            &back
                .as_ref()
                .map_or_else(ToString::to_string, |()| dns::describe(&m.from)),
        )?;
        if let Err(e) = back {
            failed_line = format!(
                "not every server answered the new value within {VERIFY_SECS} s ({seen}); reversing it failed ({e}): {} may still be {} on {primary}",
                m.name,
                dns::describe(&m.to)
            );
        }
    }
    let follow = effect.map(|at| {
        let by = at
            .plus_millis(i64::from(m.from.ttl_secs) * 1000)
            .to_rfc3339();
        format!(
            "clients follow within the old record's TTL: {} s, by {} UTC",
            m.from.ttl_secs,
            by.get(11..19).unwrap_or(&by)
        )
    });
    journaled.verified(
        &format!(
            "every authoritative server answers {}",
            dns::describe(&m.to)
        ),
        &seen,
        effect,
        confirmed,
        lines,
        format!(
            "{} now answers {} on every authoritative server; {}",
            m.name,
            dns::describe(&m.to),
            follow.unwrap_or_default()
        ),
        failed_line,
    )
}

/// The DNS record target kind.
pub struct DnsRecordTarget;

impl TargetKind for DnsRecordTarget {
    const NAME: &'static str = "DNS record";
    const SYNTAX: &'static str = "dns-source/name";
    const KINDS: &'static [Kind] = &[Kind::DnsFailover, Kind::DnsRestore];
    const DRILL: OnDrill = OnDrill::No(
        "the drill has no public name yet: its region failover is practised through its routes",
    );
    type Detail = Move;

    fn owns(env: &Environment, target: &str) -> bool {
        target::owned_by_source(env, target, 2..=2, |s| matches!(s, SourceConfig::Dns(_)))
    }

    fn plan<'a>(
        ctx: &'a Context<'_>,
        kind: Kind,
        target: &'a str,
    ) -> BoxFuture<'a, Result<Plan, WorkflowError>> {
        Box::pin(plan(ctx, kind, target))
    }

    fn run<'a>(
        ctx: &'a Context<'_>,
        plan: &'a Plan,
        detail: &'a Move,
        confirmed: Timestamp,
        operator: &'a str,
    ) -> BoxFuture<'a, Result<Report, WorkflowError>> {
        target::under_lock(
            ctx,
            plan,
            operator,
            execute(ctx, plan, detail, confirmed, operator),
        )
    }

    fn inverse(kind: Kind, _before: &str) -> Result<Kind, String> {
        target::opposite(kind, [Kind::DnsFailover, Kind::DnsRestore], "DNS")
    }

    fn offers<'a>(at: &'a Reach<'a>) -> BoxFuture<'a, Found> {
        Box::pin(async move {
            let mut found = Found::default();
            for s in &at.environment.source {
                let SourceConfig::Dns(d) = s else { continue };
                for rec in &d.records {
                    let now = match read_all(d, rec, at.timeout).await {
                        Ok(reads) => agreed(&reads),
                        Err(e) => Err(e.to_string()),
                    };
                    let now = match now {
                        Ok(a) => a,
                        Err(e) => {
                            found.1.push(format!("{}/{}: {e}", d.name, rec.name));
                            continue;
                        }
                    };
                    let rtype = dns::record_type(&rec.rtype).ok();
                    let on_standby = rec
                        .standby
                        .as_deref()
                        .zip(rtype)
                        .is_some_and(|(s, t)| dns::values(t, s).is_ok_and(|v| v == now.values));
                    let (kind, to) = if on_standby {
                        (Kind::DnsRestore, rec.primary.as_deref())
                    } else {
                        (Kind::DnsFailover, rec.standby.as_deref())
                    };
                    let Some(to) = to else { continue };
                    found.0.push(Offer {
                        kind,
                        target: format!("{}/{}", d.name, rec.name),
                        // The plan shows what it is now; one line in the palette.
                        label: format!("{} {} to {to}", kind.as_str(), d.fqdn(&rec.name)),
                        instance: None,
                    });
                }
            }
            found
        })
    }
}
