//! Traefik route failover through its file provider: `fallback` sends a router to its
//! configured fallback service, `restore` back to its primary one.
//!
//! Traefik's API is read-only, so the change is a rewrite of the file-provider file
//! (YAML or TOML) that Traefik watches: the new text is written beside it, flushed to
//! disk and renamed over it, so Traefik never reads a half-written file. The file is
//! rewritten from its parsed form (comments and formatting are not kept); the original
//! is kept as `<file>.switchboard-bak`. The change is confirmed through Traefik's API
//! (the router's service as Traefik runs it); when it does not show within 10 s, the
//! original text is written back.
//!
//! Guards besides the common ones: the file and Traefik agree on the router's service
//! (else someone edited one of them and the plan would act on a guess), the router is
//! not already there, and the service it goes to has a server Traefik sees UP (when it
//! is health-checked).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::target::{self, BoxFuture, Found, OnDrill, Reach, TargetKind};
use super::{Context, Detail, GuardResult, Kind, Offer, Plan, Report, WorkflowError};
use crate::config::{Environment, SourceConfig};
use crate::sources::HttpClient;
use crate::sources::http::get_ok;
use crate::sources::traefik::TraefikConfig;
use crate::time::Timestamp;

/// How long verification waits for Traefik to run the new route.
const VERIFY_SECS: u64 = 10;

/// A route change as planned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reroute {
    /// The Traefik source.
    pub source: String,
    /// The router.
    pub router: String,
    /// Its service when planned.
    pub from: String,
    /// Its service after the change.
    pub to: String,
    /// The file-provider file.
    pub file: PathBuf,
    /// Traefik's API base URL.
    pub api: String,
}

fn config<'a>(ctx: &'a Context<'_>, name: &str) -> Result<&'a TraefikConfig, WorkflowError> {
    super::source(ctx, "traefik", name, |s| match s {
        SourceConfig::Traefik(t) if t.name == name => Some(t),
        _ => None,
    })
}

fn is_toml(file: &Path) -> bool {
    file.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
}

/// The router's service in the file's text.
pub fn service_in(text: &str, toml_file: bool, router: &str) -> Result<String, String> {
    let found = if toml_file {
        let v: toml::Table = toml::from_str(text).map_err(|e| format!("not TOML: {e}"))?;
        v.get("http")
            .and_then(|h| h.get("routers"))
            .and_then(|r| r.get(router))
            .and_then(|r| r.get("service"))
            .and_then(|s| s.as_str())
            .map(str::to_owned)
    } else {
        let v: yaml_serde::Value =
            yaml_serde::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
        v.get("http")
            .and_then(|h| h.get("routers"))
            .and_then(|r| r.get(router))
            .and_then(|r| r.get("service"))
            .and_then(|s| s.as_str())
            .map(str::to_owned)
    };
    found.ok_or_else(|| format!("the file has no http.routers.{router}.service"))
}

/// The file's text with the router's service set to `to`.
pub fn with_service(text: &str, toml_file: bool, router: &str, to: &str) -> Result<String, String> {
    let missing = || format!("the file has no http.routers.{router}");
    if toml_file {
        let mut v: toml::Table = toml::from_str(text).map_err(|e| format!("not TOML: {e}"))?;
        let r = v
            .get_mut("http")
            .and_then(|h| h.get_mut("routers"))
            .and_then(|r| r.get_mut(router))
            .and_then(|r| r.as_table_mut())
            .ok_or_else(missing)?;
        r.insert("service".into(), toml::Value::String(to.to_owned()));
        toml::to_string(&v).map_err(|e| e.to_string())
    } else {
        let mut v: yaml_serde::Value =
            yaml_serde::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
        let r = v
            .get_mut("http")
            .and_then(|h| h.get_mut("routers"))
            .and_then(|r| r.get_mut(router))
            .and_then(|r| r.as_mapping_mut())
            .ok_or_else(missing)?;
        r.insert(
            yaml_serde::Value::String("service".into()),
            yaml_serde::Value::String(to.to_owned()),
        );
        yaml_serde::to_string(&v).map_err(|e| e.to_string())
    }
}

/// Writes `text` to `file` atomically: a temporary file in the same directory, flushed
/// to disk, renamed over it.
pub fn write_atomically(file: &Path, text: &str) -> Result<(), String> {
    let dir = file.parent().unwrap_or_else(|| Path::new("."));
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.switchboard-tmp"));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        if let Ok(meta) = std::fs::metadata(file) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, file)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot rewrite {}: {e}", file.display())
    })
}

/// The client for the Traefik source whose API is `api`: its TLS, credentials and
/// proxy use (a plain client when no source of `sources` has that API any more).
fn api_client(
    sources: &[SourceConfig],
    api: &str,
    timeout: Duration,
) -> Result<HttpClient, String> {
    match sources.iter().find_map(|s| match s {
        SourceConfig::Traefik(t) if t.api == api => Some(t),
        _ => None,
    }) {
        Some(t) => crate::sources::http::client_of(t, timeout),
        None => crate::sources::http::client(timeout),
    }
}

/// The router's service as Traefik runs it (without its `@provider`).
async fn running_service(
    client: &HttpClient,
    api: &str,
    router: &str,
    timeout: Duration,
) -> Result<String, String> {
    let url = format!(
        "{}/api/http/routers/{router}@file",
        api.trim_end_matches('/')
    );
    let text = get_ok(client, &url, timeout).await?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{url}: not JSON: {e}"))?;
    v.get("service")
        .and_then(|s| s.as_str())
        .map(|s| s.split('@').next().unwrap_or(s).to_owned())
        .ok_or_else(|| {
            format!(
                "{url}: no service in {}",
                text.chars().take(120).collect::<String>()
            )
        })
}

/// How many servers of `service` are up, and how that was learnt: Traefik's own
/// health check when the service is in use; else each server asked directly (Traefik
/// checks a service only once a router uses it), at its health-check path or `/`
/// (with a plain client: Traefik's credentials are not its servers'). A composed
/// service (weighted, failover, mirroring) counts the servers of the load balancers it
/// reaches, and none when Traefik would not send to any of them.
async fn service_up(
    client: &HttpClient,
    api: &str,
    service: &str,
    timeout: Duration,
) -> Result<(usize, String), String> {
    let name = format!("{service}@file");
    let v = service_json(client, api, &name, timeout).await?;
    if ["weighted", "failover", "mirroring"]
        .iter()
        .any(|k| v.get(k).is_some())
    {
        return composed_up(client, api, &name, timeout).await;
    }
    lb_up(&v, &name, timeout).await
}

/// `/api/http/services/NAME` as JSON.
async fn service_json(
    client: &HttpClient,
    api: &str,
    name: &str,
    timeout: Duration,
) -> Result<serde_json::Value, String> {
    let url = format!("{}/api/http/services/{name}", api.trim_end_matches('/'));
    let text = get_ok(client, &url, timeout)
        .await
        .map_err(|e| format!("Traefik has no service {name} ({e})"))?;
    serde_json::from_str(&text).map_err(|e| format!("{url}: not JSON: {e}"))
}

/// The servers up behind a composed service: each load balancer it reaches, asked as
/// [`service_up`] asks a plain one.
async fn composed_up(
    client: &HttpClient,
    api: &str,
    name: &str,
    timeout: Duration,
) -> Result<(usize, String), String> {
    let url = format!("{}/api/rawdata", api.trim_end_matches('/'));
    let text = get_ok(client, &url, timeout).await?;
    let raw = crate::sources::traefik::parse_rawdata(&text).map_err(|e| format!("{e} ({url})"))?;
    let leaves = crate::sources::traefik::compose::leaves(&raw, name);
    let mut up = 0;
    let mut words = Vec::new();
    for leaf in &leaves {
        match service_json(client, api, leaf, timeout).await {
            Ok(v) => match lb_up(&v, leaf, timeout).await {
                Ok((n, w)) => {
                    up += n;
                    words.push(w);
                }
                Err(e) => words.push(e),
            },
            Err(e) => words.push(e),
        }
    }
    if up > 0 && !crate::sources::traefik::compose::serves(&raw, name) {
        return Ok((
            0,
            format!(
                "{name} reaches {}, but Traefik would send to none of them now: {}",
                leaves.join(", "),
                words.join("; ")
            ),
        ));
    }
    Ok((
        up,
        format!(
            "{name} is composed; its load balancers {}: {}",
            leaves.join(", "),
            words.join("; ")
        ),
    ))
}

/// The servers up of the load balancer `name` (its `/api/http/services` JSON `v`).
async fn lb_up(
    v: &serde_json::Value,
    name: &str,
    timeout: Duration,
) -> Result<(usize, String), String> {
    let service = name.strip_suffix("@file").unwrap_or(name);
    if let Some(m) = v.get("serverStatus").and_then(|s| s.as_object()) {
        let up = m.values().filter(|s| s.as_str() == Some("UP")).count();
        return Ok((
            up,
            format!("Traefik sees {up} of {} server(s) of {service} UP", m.len()),
        ));
    }
    let lb = v.get("loadBalancer");
    let path = lb
        .and_then(|l| l.get("healthCheck"))
        .and_then(|h| h.get("path"))
        .and_then(|p| p.as_str())
        .unwrap_or("/");
    let servers: Vec<String> = lb
        .and_then(|l| l.get("servers"))
        .and_then(|s| s.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.get("url").and_then(|u| u.as_str()))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if servers.is_empty() {
        return Err(format!("{service} has no servers Traefik lists"));
    }
    let plain = crate::sources::http::client(timeout)?;
    let mut up = 0;
    for s in &servers {
        let probe = format!("{}{path}", s.trim_end_matches('/'));
        if get_ok(&plain, &probe, timeout).await.is_ok() {
            up += 1;
        }
    }
    Ok((
        up,
        format!(
            "{service} is not in use, so Traefik does not check it; asked its servers directly ({path}): {up} of {} answer",
            servers.len()
        ),
    ))
}

/// The plan of `fallback` or `restore` on `target` = `traefik-source/router`.
pub(super) async fn plan(
    ctx: &Context<'_>,
    kind: Kind,
    target: &str,
) -> Result<Plan, WorkflowError> {
    let (source, router) = target
        .split_once('/')
        .filter(|(s, r)| !s.is_empty() && !r.is_empty() && !r.contains('/'))
        .ok_or_else(|| {
            WorkflowError::Usage(format!("target {target:?} is not traefik-source/router"))
        })?;
    let cfg = config(ctx, source)?;
    let route = cfg
        .routes
        .iter()
        .find(|r| r.router == router)
        .ok_or_else(|| {
            WorkflowError::Usage(format!(
                "router {router:?} has no fallback in source {source:?} (routes: {})",
                cfg.routes
                    .iter()
                    .map(|r| r.router.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    let file = PathBuf::from(cfg.dynamic_file.as_deref().ok_or_else(|| {
        WorkflowError::Usage(format!(
            "the traefik source {source:?} has no `dynamic_file`: the console cannot change its routes"
        ))
    })?);
    let text = std::fs::read_to_string(&file)
        .map_err(|e| WorkflowError::Target(format!("cannot read {}: {e}", file.display())))?;
    let in_file = service_in(&text, is_toml(&file), router).map_err(WorkflowError::Target)?;
    let client =
        crate::sources::http::client_of(cfg, ctx.timeout).map_err(WorkflowError::Target)?;
    let running = running_service(&client, &cfg.api, router, ctx.timeout).await;
    let to = if kind == Kind::Fallback {
        route.fallback.clone()
    } else {
        route.primary.clone()
    };
    let now = ctx.clock.now();
    let mut guards = super::common_guards(ctx, target, now).await?;
    guards.push(GuardResult {
        name: "file and Traefik agree",
        ok: running.as_ref().is_ok_and(|r| *r == in_file),
        reason: match &running {
            Ok(r) if *r == in_file => format!("{router} -> {r} in the file and in Traefik"),
            Ok(r) => format!(
                "the file says {router} -> {in_file}, Traefik runs {router} -> {r}: one of them was changed by hand"
            ),
            Err(e) => format!("Traefik's API: {e}"),
        },
    });
    guards.push(GuardResult {
        name: "not there yet",
        ok: in_file != to,
        reason: if in_file == to {
            format!("{router} already goes to {to}")
        } else {
            format!("{router} goes to {in_file} now")
        },
    });
    let up = service_up(&client, &cfg.api, &to, ctx.timeout).await;
    guards.push(GuardResult {
        name: "destination healthy",
        ok: up.as_ref().is_ok_and(|(n, _)| *n > 0),
        reason: match up {
            Ok((_, words)) | Err(words) => words,
        },
    });
    Ok(Plan {
        kind,
        target: target.to_owned(),
        confirm_as: router.to_owned(),
        environment: ctx.environment.name.clone(),
        before: in_file.clone(),
        steps: vec![
            format!(
                "rewrite {}: http.routers.{router}.service {in_file} -> {to} (written beside it, flushed, renamed over it; the original kept as {}.switchboard-bak; comments are not kept)",
                file.display(),
                file.display()
            ),
            format!(
                "verify: Traefik's API shows {router} -> {to} (up to {VERIFY_SECS} s); else the original text is written back"
            ),
        ],
        guards,
        made_at: now,
        overrides: Vec::new(),
        approver: None,
        detail: Detail::Router(Reroute {
            source: source.to_owned(),
            router: router.to_owned(),
            from: in_file,
            to,
            file,
            api: cfg.api.clone(),
        }),
    })
}

/// Re-reads the file (refusing when it changed) and rewrites it.
pub(super) async fn run(
    ctx: &Context<'_>,
    plan: &Plan,
    r: &Reroute,
    confirmed: Timestamp,
    operator: &str,
) -> Result<Report, WorkflowError> {
    let text = std::fs::read_to_string(&r.file)
        .map_err(|e| WorkflowError::Target(format!("cannot read {}: {e}", r.file.display())))?;
    let now = service_in(&text, is_toml(&r.file), &r.router).map_err(WorkflowError::Target)?;
    if now != r.from {
        return Err(WorkflowError::Refused(format!(
            "the target changed since the plan: {} went to {}, goes to {now}; plan again",
            r.router, r.from
        )));
    }
    Box::pin(super::locked(
        ctx,
        plan,
        operator,
        execute(ctx, plan, r, text, confirmed, operator),
    ))
    .await
}

async fn execute(
    ctx: &Context<'_>,
    plan: &Plan,
    r: &Reroute,
    original: String,
    confirmed: Timestamp,
    operator: &str,
) -> Result<Report, WorkflowError> {
    let journaled = super::Journaled::start(ctx, plan, operator, confirmed)?;
    let mut lines = Vec::new();
    let action = format!("rewrite {}: {} -> {}", r.file.display(), r.router, r.to);
    if let Some(rep) = journaled.checkpoint(&action, &mut lines)? {
        return Ok(rep);
    }
    journaled.step(
        "before",
        &action,
        "pending",
        &format!("{} -> {}", r.router, r.from),
    )?;
    let written = with_service(&original, is_toml(&r.file), &r.router, &r.to).and_then(|new| {
        let bak = PathBuf::from(format!("{}.switchboard-bak", r.file.display()));
        std::fs::write(&bak, &original)
            .map_err(|e| format!("cannot keep the original as {}: {e}", bak.display()))?;
        write_atomically(&r.file, &new)
    });
    journaled.step(
        "after",
        &action,
        if written.is_ok() { "ok" } else { "failed" },
        written.as_ref().err().map_or("", String::as_str),
    )?;
    if let Err(e) = written {
        return journaled.needs_human(lines, format!("{e}; the file is as it was"));
    }
    lines.push(format!("wrote {}", r.file.display()));
    let client = api_client(&ctx.environment.source, &r.api, ctx.timeout);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(VERIFY_SECS);
    let mut seen = String::new();
    let mut effect = None;
    while tokio::time::Instant::now() < deadline {
        let running = match &client {
            Ok(c) => running_service(c, &r.api, &r.router, ctx.timeout).await,
            Err(e) => Err(e.clone()),
        };
        match running {
            Ok(s) if s == r.to => {
                effect = Some(ctx.clock.now());
                seen = s;
                break;
            }
            Ok(s) => seen = s,
            Err(e) => seen = e,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    journaled.step(
        "verify",
        &format!("Traefik runs {} -> {}", r.router, r.to),
        if effect.is_some() { "ok" } else { "failed" },
        &seen,
    )?;
    if let Some(at) = effect {
        journaled.finish("done")?;
        lines.push(format!("verified: Traefik runs {} -> {seen}", r.router));
        return Ok(Report {
            run: journaled.id,
            outcome: "done".into(),
            effect_millis: Some(at.millis_since(confirmed)),
            lines,
        });
    }
    let back = write_atomically(&r.file, &original);
    journaled.step(
        "rollback",
        &format!("write the original {} back", r.file.display()),
        if back.is_ok() { "ok" } else { "failed" },
        back.as_ref().err().map_or("", String::as_str),
    )?;
    let outcome = if back.is_ok() {
        "rolled_back"
    } else {
        "needs_human"
    };
    journaled.finish(outcome)?;
    lines.push(format!(
        "Traefik did not run {} -> {} within {VERIFY_SECS} s (it runs: {seen}); {}",
        r.router,
        r.to,
        if back.is_ok() {
            "the original file is back"
        } else {
            "WRITING THE ORIGINAL BACK FAILED: a human must look"
        }
    ));
    Ok(Report {
        run: journaled.id,
        outcome: outcome.into(),
        effect_millis: None,
        lines,
    })
}

/// The Traefik router target kind (`traefik-source/router`).
pub struct RouterTarget;

impl TargetKind for RouterTarget {
    const NAME: &'static str = "Traefik router";
    const SYNTAX: &'static str = "traefik-source/router";
    const KINDS: &'static [Kind] = &[Kind::Fallback, Kind::Restore];
    const DRILL: OnDrill = OnDrill::Practised;
    type Detail = Reroute;

    fn owns(env: &Environment, target: &str) -> bool {
        target::owned_by_source(env, target, 2..=2, |s| {
            matches!(s, SourceConfig::Traefik(_))
        })
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
        detail: &'a Reroute,
        confirmed: Timestamp,
        operator: &'a str,
    ) -> BoxFuture<'a, Result<Report, WorkflowError>> {
        Box::pin(run(ctx, plan, detail, confirmed, operator))
    }

    fn inverse(kind: Kind, _before: &str) -> Result<Kind, String> {
        target::opposite(kind, [Kind::Fallback, Kind::Restore], "router")
    }

    fn offers<'a>(at: &'a Reach<'a>) -> BoxFuture<'a, Found> {
        Box::pin(async move {
            let mut found = Found::default();
            for s in &at.environment.source {
                let SourceConfig::Traefik(t) = s else {
                    continue;
                };
                if t.dynamic_file.is_none() {
                    continue;
                }
                for r in &t.routes {
                    for (kind, to) in [(Kind::Fallback, &r.fallback), (Kind::Restore, &r.primary)] {
                        found.0.push(Offer {
                            kind,
                            target: format!("{}/{}", t.name, r.router),
                            label: format!(
                                "{} router {} on {}: send it to {to}",
                                kind.as_str(),
                                r.router,
                                t.name
                            ),
                            instance: None,
                        });
                    }
                }
            }
            found
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "http:\n  routers:\n    web:\n      rule: \"PathPrefix(`/`)\"\n      service: websvc\n  services:\n    websvc: {}\n";

    #[test]
    fn yaml_and_toml_routes_are_read_and_changed_and_nothing_else_is() {
        assert_eq!(service_in(YAML, false, "web").as_deref(), Ok("websvc"));
        let new = with_service(YAML, false, "web", "fallbacksvc").expect("rewrite");
        assert_eq!(service_in(&new, false, "web").as_deref(), Ok("fallbacksvc"));
        assert!(new.contains("PathPrefix(`/`)"), "{new}");
        assert!(service_in(YAML, false, "api").is_err());
        assert!(with_service("http: [", false, "web", "x").is_err());

        let toml_text = "[http.routers.web]\nrule = \"Host(`a`)\"\nservice = \"websvc\"\n";
        let new = with_service(toml_text, true, "web", "fallbacksvc").expect("rewrite");
        assert_eq!(service_in(&new, true, "web").as_deref(), Ok("fallbacksvc"));
        assert!(new.contains("Host(`a`)"));
    }

    #[test]
    fn the_rewrite_replaces_the_file_whole() {
        let dir = tempfile::tempdir().expect("dir");
        let f = dir.path().join("dyn.yml");
        std::fs::write(&f, YAML).expect("write");
        write_atomically(&f, "http: {}\n").expect("atomic");
        assert_eq!(std::fs::read_to_string(&f).expect("read"), "http: {}\n");
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
        assert_eq!(left.len(), 1, "no temporary file left");
    }
}
