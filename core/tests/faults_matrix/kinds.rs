//! The source kinds of the matrix: each one's real rig server(s), its settings pointed
//! at proxies in front of them, and how its failure shows (the source itself down or
//! stale, or, for a probe, its target unhealthy).

use switchboard_core::State;
use switchboard_core::model::{Health, SourceStatus};

/// Every source in the matrix is named this (one engine per kind).
pub const SOURCE: &str = "under-fault";
/// The instance a probe reports on.
pub const PROBED: &str = "probed";
/// Bound on each call, for every kind: 500 ms of latency each way (1 s a round trip)
/// stays under it, 2 s each way does not.
pub const TIMEOUT_MILLIS: u64 = 2000;
/// The environment's staleness limit.
pub const STALE_MILLIS: u64 = 3000;
/// The password every HTTP kind sends (from a file): it must never show in any words.
pub const SECRET: &str = "faults-matrix-Secret-7f3a";

/// One source kind on its rig server.
pub struct Kind {
    /// The rig component that must be up.
    pub component: &'static str,
    /// The source kind's name in the config.
    pub name: &'static str,
    /// The real servers, `host:port`: one proxy each.
    pub upstreams: &'static [&'static str],
    /// Whether its failure shows on its target (a probe) rather than on itself.
    pub probe: bool,
    /// Where the truncated answer is cut, in bytes per connection: inside the JSON or
    /// CSV body for the HTTP APIs, inside the headers for the probe's tiny page, inside
    /// the server's first HTTP/2 frame for gRPC (whose small answers would otherwise
    /// fit whole in a new connection's first bytes).
    pub truncate_at: usize,
    /// Its settings (after `kind` and `name`), given the proxies' addresses (or, for the
    /// DNS case, names that do not resolve) and the secret file's path.
    pub fields: fn(&[String], &str) -> String,
}

/// The password from a file, and no forward proxy: the proxies here are on loopback,
/// and a name that does not resolve must be this machine's DNS's answer, not a CI
/// proxy's.
fn auth(secret: &str) -> String {
    format!("auth = {{ username = \"ops\", password_file = \"{secret}\" }}\nproxy = false\n")
}

/// The kinds with a rig server, and their settings.
pub const KINDS: [Kind; 8] = [
    Kind {
        component: "haproxy",
        name: "haproxy",
        upstreams: &["127.0.0.1:8404"],
        probe: false,
        truncate_at: 300,
        fields: |a, s| {
            format!(
                "stats_url = \"http://{}/stats;csv\"\ninterval_millis = 250\ntimeout_millis = {TIMEOUT_MILLIS}\n{}",
                a[0],
                auth(s)
            )
        },
    },
    Kind {
        component: "traefik",
        name: "traefik",
        upstreams: &["127.0.0.1:8181"],
        probe: false,
        truncate_at: 300,
        fields: |a, s| {
            format!(
                "api = \"http://{}\"\ninterval_millis = 250\ntimeout_millis = {TIMEOUT_MILLIS}\n{}",
                a[0],
                auth(s)
            )
        },
    },
    Kind {
        component: "envoy",
        name: "envoy",
        upstreams: &["127.0.0.1:9901"],
        probe: false,
        truncate_at: 300,
        fields: |a, s| {
            format!(
                "admin = \"http://{}\"\ninterval_millis = 250\ntimeout_millis = {TIMEOUT_MILLIS}\n{}",
                a[0],
                auth(s)
            )
        },
    },
    Kind {
        component: "prometheus",
        name: "prometheus",
        upstreams: &["127.0.0.1:9090"],
        probe: false,
        truncate_at: 300,
        fields: |a, s| {
            format!(
                "url = \"http://{}\"\ninterval_secs = 0.5\ntimeout_secs = {}\n{}\
                 [[environment.source.query]]\nbreaker = \"b\"\nservice = \"s\"\nexpr = \"up\"\n",
                a[0],
                TIMEOUT_MILLIS as f64 / 1000.0,
                auth(s)
            )
        },
    },
    Kind {
        component: "patroni",
        name: "patroni",
        upstreams: &["127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003"],
        probe: false,
        truncate_at: 300,
        fields: |a, s| {
            format!(
                "endpoints = [\"http://{}\", \"http://{}\", \"http://{}\"]\ninterval_millis = 500\ntimeout_millis = {TIMEOUT_MILLIS}\n{}",
                a[0],
                a[1],
                a[2],
                auth(s)
            )
        },
    },
    Kind {
        component: "grpchealth",
        name: "grpc_health",
        upstreams: &["127.0.0.1:50051"],
        probe: true,
        truncate_at: 16,
        fields: |a, _| {
            format!(
                "endpoint = \"http://{}\"\ninterval_millis = 500\ntimeout_millis = {TIMEOUT_MILLIS}\ninstance = \"{PROBED}\"\n",
                a[0]
            )
        },
    },
    Kind {
        component: "haproxy",
        name: "http_probe",
        upstreams: &["127.0.0.1:9001"],
        probe: true,
        truncate_at: 100,
        fields: |a, s| {
            format!(
                "url = \"http://{}/\"\ninterval_secs = 0.5\ntimeout_secs = {}\ninstance = \"{PROBED}\"\n{}",
                a[0],
                TIMEOUT_MILLIS as f64 / 1000.0,
                auth(s)
            )
        },
    },
    Kind {
        component: "etcd",
        name: "etcd",
        upstreams: &["127.0.0.1:12379", "127.0.0.1:22379", "127.0.0.1:32379"],
        probe: false,
        truncate_at: 16,
        fields: |a, _| {
            format!(
                "endpoints = [\"http://{}\", \"http://{}\", \"http://{}\"]\npoll_interval_millis = 250\ntimeout_millis = {TIMEOUT_MILLIS}\n",
                a[0], a[1], a[2]
            )
        },
    },
];

/// The TOML of one environment watching `kind` at `addrs`.
pub fn config(kind: &Kind, addrs: &[String], secret_file: &str) -> switchboard_core::Config {
    let toml = format!(
        "[[environment]]\nname = \"faults\"\nstale_after_millis = {STALE_MILLIS}\n\
         [[environment.source]]\nkind = \"{}\"\nname = \"{SOURCE}\"\n{}",
        kind.name,
        (kind.fields)(addrs, secret_file)
    );
    switchboard_core::Config::parse(&toml, std::path::Path::new("faults.toml"))
        .unwrap_or_else(|e| panic!("{}: {e}\n{toml}", kind.name))
}

/// Whether the console shows the kind failed: the source not up (down or stale), or a
/// probe's target unhealthy.
pub fn failed(kind: &Kind, s: &State) -> bool {
    s.sources
        .get(SOURCE)
        .is_some_and(|x| x.status != SourceStatus::Up)
        || (kind.probe
            && s.instances
                .get(PROBED)
                .is_some_and(|i| i.health == Health::Unhealthy))
}

/// Whether the kind is up and shows nothing failed (for a probe: its target healthy).
pub fn healthy(kind: &Kind, s: &State) -> bool {
    s.sources
        .get(SOURCE)
        .is_some_and(|x| x.status == SourceStatus::Up)
        && !failed(kind, s)
        && (!kind.probe
            || s.instances
                .get(PROBED)
                .is_some_and(|i| i.health == Health::Healthy))
}

/// The words the console gives for the failure: the source's detail, else the probed
/// target's.
pub fn words(s: &State) -> String {
    s.sources
        .get(SOURCE)
        .filter(|x| x.status != SourceStatus::Up)
        .and_then(|x| x.detail.clone())
        .filter(|d| !d.is_empty())
        .or_else(|| {
            s.instances
                .get(PROBED)
                .filter(|i| i.health == Health::Unhealthy)
                .and_then(|i| i.detail.as_deref().map(str::to_owned))
        })
        .unwrap_or_default()
}
