//! The DNS record target (`dns-source/name`): `dns-failover` points a public name at its
//! standby value (the standby region's name or addresses), `dns-restore` back at its
//! primary value: in one RFC 2136 update to the zone's primary server, signed with the
//! source's TSIG key, or for a Route53 zone in one `ChangeResourceRecordSets` batch.
//!
//! The plan reads the record fresh from every place that answers for it (Route53's API,
//! every authoritative server; never a resolver): they must agree, since a secondary
//! that missed the last change would make "what the plan saw" a guess. Guards besides
//! the common ones: the record is not there yet, the value it goes to is healthy now
//! (its `standby_check` URL answers 2xx, where one is configured), and the change can be
//! signed (the TSIG key, or AWS credentials, found now). The change is a
//! compare-and-swap: an update's prerequisite is the value the plan read; a Route53
//! batch deletes exactly the record set the plan read and creates the new one, all or
//! nothing. A record someone changed since is refused, not overwritten. A Route53
//! change is followed until `INSYNC`. Verified when every place answers the new value;
//! else the change is reversed (the same compare-and-swap, the other way). The report
//! says when resolvers that cached the old answer will have followed: within its TTL.

use std::time::Duration;

use super::target::{self, BoxFuture, Found, OnDrill, Reach, TargetKind};
use super::{Context, Detail, GuardResult, Journaled, Kind, Offer, Plan, Report, WorkflowError};
use crate::config::{Environment, SourceConfig};
use crate::dns::{self, Answer};
use crate::sources::aws::call::Api;
use crate::sources::aws::route53::{self, RecordSet};
use crate::sources::dns::{DnsConfig, DnsRecord, RecordRead, read_record, route53_zone};
use crate::time::Timestamp;

/// How long verification waits for every server to answer the new value.
const VERIFY_SECS: u64 = 30;

/// How long a Route53 change may stay `PENDING`: AWS says changes reach every Route53
/// server within 60 seconds, normally.
const INSYNC_SECS: u64 = 180;

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
    /// A Route53 zone's record set exactly as the API held it at the plan (`None`:
    /// not a Route53 zone): the batch deletes this, so a change since is refused.
    pub route53_from: Option<RecordSet>,
    /// The Route53 hosted zone's id it was read from.
    pub route53_zone: Option<String>,
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

/// `rec` read fresh from every place that answers for it.
async fn read_now(
    cfg: &DnsConfig,
    rec: &DnsRecord,
    timeout: std::time::Duration,
) -> Result<RecordRead, WorkflowError> {
    Ok(read_with_zone(cfg, rec, timeout).await?.0)
}

/// `rec` read fresh, and the Route53 zone's id it was read from (a Route53 zone).
async fn read_with_zone(
    cfg: &DnsConfig,
    rec: &DnsRecord,
    timeout: std::time::Duration,
) -> Result<(RecordRead, Option<String>), WorkflowError> {
    let api = route53_zone(cfg, None, timeout).await;
    let read = read_record(cfg, rec, api.as_ref(), timeout)
        .await
        .map_err(WorkflowError::Usage)?;
    Ok((read, api.and_then(Result::ok).map(|r| r.zone_id)))
}

/// The standby is healthy now: `check` is a URL asked directly, or the name of an
/// `http_probe` source whose target is asked now, with its TLS and credentials.
async fn standby_check(
    env: &Environment,
    check: &str,
    timeout: std::time::Duration,
) -> GuardResult {
    let probe = env.source.iter().find_map(|s| match s {
        SourceConfig::HttpProbe(p) if p.name == check => Some(p),
        _ => None,
    });
    let (client, url, by) = match probe {
        Some(p) => (
            crate::sources::http::client_of(p, timeout),
            p.url.as_str(),
            format!("probe {check}: "),
        ),
        None if check.starts_with("http://") || check.starts_with("https://") => {
            (crate::sources::http::client(timeout), check, String::new())
        }
        None => {
            return GuardResult {
                name: "target healthy",
                ok: false,
                reason: format!(
                    "standby_check {check:?} is neither a URL nor an http_probe source of this environment"
                ),
            };
        }
    };
    let answer = match client {
        Ok(c) => crate::sources::http::get_ok(&c, url, timeout).await,
        Err(e) => Err(e),
    };
    GuardResult {
        name: "target healthy",
        ok: answer.is_ok(),
        reason: match answer {
            Ok(_) => format!("{by}{url} answers 2xx"),
            Err(e) => format!("{by}{url}: {e}"),
        },
    }
}

/// The guard that the change can be made: the TSIG key readable, or AWS credentials
/// found (never shown: where they came from is).
fn signing_guard(cfg: &DnsConfig, timeout: std::time::Duration) -> GuardResult {
    let found = match &cfg.route53 {
        Some(zone) => Api::route53(&zone.aws(), timeout).map(|api| {
            format!(
                "AWS credentials from {} for {}",
                api.credentials_from(),
                api.endpoint()
            )
        }),
        None => cfg
            .tsig_key()
            .map(|key| format!("TSIG key {} ({}) is readable", key.name, key.algorithm)),
    };
    GuardResult {
        name: if cfg.route53.is_some() {
            "credentials"
        } else {
            "signing key"
        },
        ok: found.is_ok(),
        reason: found.unwrap_or_else(|e| e),
    }
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
    let (read, route53_zone) = read_with_zone(cfg, rec, ctx.timeout).await?;
    let from = read
        .agreed()
        .map_err(|e| WorkflowError::Target(format!("{}: {e}", rec.name)))?;
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
        reason: format!("every place answers {} now", dns::describe(&from)),
    });
    let check = match &rec.standby_check {
        Some(check) if kind == Kind::DnsFailover => {
            standby_check(ctx.environment, check, ctx.timeout).await
        }
        _ => GuardResult {
            name: "target healthy",
            ok: true,
            reason: "no check configured for this value (`standby_check`)".into(),
        },
    };
    guards.push(check);
    // Checked now, not after the confirmation: a change that cannot be signed is refused
    // before anyone types the name.
    guards.push(signing_guard(cfg, ctx.timeout));
    let mut places = read
        .servers
        .iter()
        .map(|(s, _)| s.to_string())
        .collect::<Vec<_>>();
    let fqdn = cfg.fqdn(&rec.name);
    let route53_from = read
        .api
        .as_ref()
        .and_then(|(_, r)| r.as_ref().ok().cloned().flatten());
    let change = match (&cfg.route53, &route53_zone) {
        (Some(zone), Some(zone_id)) => {
            places.insert(0, format!("Route53 {zone_id}"));
            vec![
                format!(
                    "Route53 change batch to zone {zone_id} ({}): delete {fqdn} {} (TTL {} s) exactly as read and create {} (TTL {} s), together or not at all",
                    zone.profile.as_deref().map_or_else(
                        || "the AWS CLI's default profile".to_owned(),
                        |p| format!("profile {p}")
                    ),
                    dns::describe(&from),
                    from.ttl_secs,
                    dns::describe(&to),
                    to.ttl_secs
                ),
                format!("follow the change until Route53 says INSYNC (up to {INSYNC_SECS} s)"),
            ]
        }
        (Some(_), None) => {
            return Err(WorkflowError::Target(format!(
                "{}: the Route53 zone could not be found",
                rec.name
            )));
        }
        (None, _) => vec![format!(
            "RFC 2136 update to {} (zone {}, signed with key {}): if {fqdn} is still {}, replace it with {} (TTL {} s)",
            places.first().map_or("?", String::as_str),
            cfg.zone,
            cfg.tsig.as_ref().map_or("(none)", |t| t.key_name.as_str()),
            dns::describe(&from),
            dns::describe(&to),
            to.ttl_secs
        )],
    };
    Ok(Plan {
        kind,
        target: target.to_owned(),
        confirm_as: fqdn.clone(),
        environment: ctx.environment.name.clone(),
        before: dns::describe(&from),
        steps: change
            .into_iter()
            .chain([format!(
                "verify: every place ({}) answers {} (up to {VERIFY_SECS} s); else the change is reversed",
                places.join(", "),
                dns::describe(&to)
            )])
            .collect(),
        guards,
        made_at: now,
        overrides: Vec::new(),
        approver: None,
        detail: Detail::DnsRecord(Move {
            source: cfg.name.clone(),
            name: fqdn,
            from,
            to,
            route53_from,
            route53_zone,
        }),
    })
}

/// Where a change goes: the zone's primary server (RFC 2136), or Route53's API.
enum Changer {
    Bind {
        primary: std::net::SocketAddr,
        zone: hickory_proto::rr::Name,
        name: hickory_proto::rr::Name,
        key: dns::TsigKey,
    },
    Route53 {
        api: Api,
        zone_id: String,
        comment: String,
    },
}

impl Changer {
    fn new(cfg: &DnsConfig, m: &Move, ctx: &Context<'_>, plan: &Plan) -> Result<Self, String> {
        if let Some(zone) = &cfg.route53 {
            return Ok(Self::Route53 {
                api: Api::route53(&zone.aws(), ctx.timeout)?,
                zone_id: m
                    .route53_zone
                    .clone()
                    .ok_or_else(|| format!("{}: no Route53 zone in the plan", m.name))?,
                comment: format!("switchboard {} of {}", plan.kind.as_str(), m.name),
            });
        }
        let servers = cfg.server_addrs()?;
        Ok(Self::Bind {
            primary: *servers
                .first()
                .ok_or_else(|| format!("{} lists no server", m.source))?,
            zone: dns::name(&cfg.zone)?,
            name: dns::name(&m.name)?,
            key: cfg.tsig_key()?,
        })
    }

    /// Where the change goes, in words.
    fn place(&self) -> String {
        match self {
            Self::Bind { primary, .. } => primary.to_string(),
            Self::Route53 { zone_id, .. } => format!("Route53 zone {zone_id}"),
        }
    }

    /// Replaces `from` (exactly as read: `exact` for Route53) by `to`; for Route53, the
    /// change's id to follow.
    async fn swap(
        &self,
        name: &str,
        from: (&Answer, Option<&RecordSet>),
        to: &Answer,
        timeout: std::time::Duration,
    ) -> Result<Option<String>, String> {
        match self {
            Self::Bind {
                primary,
                zone,
                name,
                key,
            } => dns::swap(*primary, zone, name, from.0, to, key, timeout)
                .await
                .map(|()| None)
                .map_err(|e| e.to_string()),
            Self::Route53 {
                api,
                zone_id,
                comment,
            } => {
                let to = RecordSet {
                    name: name.to_owned(),
                    rtype: to.rtype.clone(),
                    ttl: to.ttl_secs,
                    values: to.values.clone(),
                };
                route53::replace(api, zone_id, from.1, &to, comment)
                    .await
                    .map(Some)
            }
        }
    }

    /// Waits until Route53 says `change` is `INSYNC`; how long that took, or why not.
    async fn insync(&self, change: &str) -> Result<std::time::Duration, String> {
        let Self::Route53 { api, .. } = self else {
            return Ok(std::time::Duration::ZERO);
        };
        let started = tokio::time::Instant::now();
        let deadline = started + std::time::Duration::from_secs(INSYNC_SECS);
        // Quick at first (an emulator, or a change already done), then as AWS advises.
        let mut pause = std::time::Duration::from_millis(50);
        loop {
            let status = route53::change_status(api, change).await?;
            if status == "INSYNC" {
                return Ok(started.elapsed());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "change {change} still {status} after {INSYNC_SECS} s"
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_secs(5));
        }
    }
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
    let changer = Changer::new(cfg, m, ctx, plan).map_err(WorkflowError::Usage)?;
    let place = changer.place();
    let journaled = Journaled::start(ctx, plan, operator, confirmed)?;
    let mut lines = Vec::new();
    if let Some(r) = journaled.checkpoint("update", &mut lines)? {
        return Ok(r);
    }
    let step = format!("{} -> {}", dns::describe(&m.from), dns::describe(&m.to));
    journaled.step(
        "act",
        &format!("update {} on {place}", m.name),
        "started",
        &step,
    )?;
    let change = match changer
        .swap(
            &m.name,
            (&m.from, m.route53_from.as_ref()),
            &m.to,
            ctx.timeout,
        )
        .await
    {
        Ok(c) => c,
        Err(e) => {
            journaled.step("act", &format!("update {}", m.name), "failed", &e)?;
            return journaled.needs_human(lines, format!("the update of {}: {e}", m.name));
        }
    };
    journaled.step(
        "act",
        &format!("update {}", m.name),
        "ok",
        &change
            .as_ref()
            .map_or_else(|| step.clone(), |c| format!("{step} (change {c})")),
    )?;
    lines.push(format!("{place} took the update: {step}"));
    if let Some(c) = &change {
        match changer.insync(c).await {
            Ok(took) => {
                let said = format!("INSYNC after {} ms", took.as_millis());
                journaled.step("act", &format!("follow change {c}"), "ok", &said)?;
                lines.push(format!("Route53 change {c}: {said}"));
            }
            Err(e) => {
                // Not reversed: a change Route53 accepted will still apply; undoing it
                // blind could race it. A person looks.
                journaled.step("act", &format!("follow change {c}"), "failed", &e)?;
                return journaled.needs_human(
                    lines,
                    format!("Route53 took the change of {} but {e}", m.name),
                );
            }
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(VERIFY_SECS);
    let (effect, seen) = loop {
        let read = match read_now(cfg, rec, ctx.timeout).await {
            Ok(r) => r,
            Err(e) => break (None, e.to_string()),
        };
        let lagging = read.lagging(&m.to.values);
        if lagging.is_empty() {
            let seen = format!(
                "all {} place(s) answer {}",
                read.count(),
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
        "not every place answered the new value within {VERIFY_SECS} s ({seen}); the update was reversed"
    );
    if effect.is_none() {
        // Reverse it: the same compare-and-swap the other way, so nothing is left half-done.
        let written = m.route53_from.as_ref().map(|_| RecordSet {
            name: m.name.clone(),
            rtype: m.to.rtype.clone(),
            ttl: m.to.ttl_secs,
            values: m.to.values.clone(),
        });
        let back_to = m.route53_from.as_ref().map_or_else(
            || m.from.clone(),
            |r| Answer {
                rtype: r.rtype.clone(),
                values: r.values.clone(),
                ttl_secs: r.ttl,
            },
        );
        let back = changer
            .swap(&m.name, (&m.to, written.as_ref()), &back_to, ctx.timeout)
            .await;
        journaled.step(
            "rollback",
            &format!("update {} back", m.name),
            if back.is_ok() { "ok" } else { "failed" },
            &back
                .as_ref()
                .map_or_else(Clone::clone, |_| dns::describe(&m.from)),
        )?;
        if let Err(e) = back {
            failed_line = format!(
                "not every place answered the new value within {VERIFY_SECS} s ({seen}); reversing it failed ({e}): {} may still be {} on {place}",
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
        &format!("every place answers {}", dns::describe(&m.to)),
        &seen,
        effect,
        confirmed,
        lines,
        format!(
            "{} now answers {} on every place asked; {}",
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
    const DRILL: OnDrill = OnDrill::Practised;
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
                    let now = match read_now(d, rec, at.timeout).await {
                        Ok(read) => read.agreed(),
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
