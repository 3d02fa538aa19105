//! The sources table: every kind of source, declared once.
//!
//! Each line names a kind's variant, its config and TOML name, its module (which
//! exports `run(cfg, emitter)`), the config field that sets how often it polls, which
//! panes it feeds besides the ones its own data names, and a minimal config for the
//! test that walks the table. Everything that lists the kinds is generated from it:
//! `SourceKind` with its names, descriptions and feeds (`model/kinds.rs`),
//! `SourceConfig` with `name`, `kind` and `poll_at_most_every` (`config/mod.rs`), and
//! the engine's start arm (`engine/start_arm.rs`).
//!
//! Adding a kind of source is a module under `sources/` plus one line here.
//!
//! The order is the order of `SourceKind`'s variants, which the snapshot format
//! (postcard) writes as an index: never reorder the lines, add new ones at the end.
//!
//! The fields of a line:
//! - `Variant = "toml_name"`, with the doc comment both enums take;
//! - `module::Config`;
//! - `poll: { field: millis }` or `{ field: secs }`, the polling interval a wall can
//!   slow down, or `{}` for a source that streams;
//! - `feeds: { pane: Always | WhenShown }`: `breakers` for a gateway that reports its
//!   routes' breakers, `databases` for a database source; `WhenShown` counts the source
//!   only while the state has something of that pane (the drill simulates databases);
//! - `example: "…"`: the fields a minimal config needs besides `kind` and `name`, with
//!   `{addr}` standing for a `host:port` to reach;
//! - optionally `start: path`, a start function for a source that takes commands
//!   (`fn(cfg, Emitter, &Handle) -> Started`) instead of spawning `run`.

/// Calls the macro `$then` with the whole table (the callback pattern, so each place
/// that generates from the table keeps its generated code next to its type).
///
/// Exported at the crate root (`crate::source_table!`) so that the model, which the
/// sources build on, can expand it without depending on the sources module; hidden
/// from the crate's documentation, as it is of no use outside it.
#[doc(hidden)]
#[macro_export]
macro_rules! source_table {
    ($then:ident) => {
        $then! {
            /// The embedded simulated fleet.
            Drill = "drill", drill::DrillConfig, poll: {},
                feeds: { databases: WhenShown },
                example: "tick_millis = 60000\nscripted = false",
                start: $crate::sources::drill::start;
            /// An etcd cluster over gRPC.
            Etcd = "etcd", etcd::EtcdConfig, poll: { poll_interval_millis: millis },
                feeds: {},
                example: "endpoints = [\"http://{addr}\"]";
            /// An HAProxy (runtime API or stats CSV).
            Haproxy = "haproxy", haproxy::HaproxyConfig, poll: { interval_millis: millis },
                feeds: { breakers: Always },
                example: "stats_url = \"http://{addr}/stats;csv\"";
            /// An HTTP liveness or deep readiness probe.
            HttpProbe = "http_probe", http_probe::HttpProbeConfig, poll: { interval_secs: secs },
                feeds: {},
                example: "url = \"http://{addr}/ready\"";
            /// A gRPC health (`grpc.health.v1`) target.
            GrpcHealth = "grpc_health", grpc_health::GrpcHealthConfig,
                poll: { interval_millis: millis },
                feeds: {},
                example: "endpoint = \"http://{addr}\"";
            /// An Envoy (admin API).
            Envoy = "envoy", envoy::EnvoyConfig, poll: { interval_millis: millis },
                feeds: { breakers: Always },
                example: "admin = \"http://{addr}\"";
            /// A Traefik (API).
            Traefik = "traefik", traefik::TraefikConfig, poll: { interval_millis: millis },
                feeds: { breakers: Always },
                example: "api = \"http://{addr}\"";
            /// A Prometheus (instant queries).
            Prometheus = "prometheus", prometheus::PrometheusConfig,
                poll: { interval_secs: secs },
                feeds: {},
                example: "url = \"http://{addr}\"\n[[query]]\nbreaker = \"b\"\nservice = \"s\"\nexpr = \"up\"";
            /// A Patroni cluster (each member's REST API).
            Patroni = "patroni", patroni::PatroniConfig, poll: { interval_millis: millis },
                feeds: { databases: Always },
                example: "endpoints = [\"http://{addr}\"]";
            /// A Consul datacenter (one agent's HTTP API).
            Consul = "consul", consul::ConsulConfig, poll: { interval_millis: millis },
                feeds: {},
                example: "address = \"http://{addr}\"";
            /// A Kubernetes cluster (watches through the API server).
            Kubernetes = "kubernetes", kubernetes::KubernetesConfig, poll: {},
                feeds: {},
                example: "kubeconfig = \"/nonexistent/kubeconfig\"";
            /// A PostgreSQL server (`pg_stat_activity`, `pg_is_in_recovery()`).
            Postgres = "postgres", postgres::PostgresConfig, poll: { interval_millis: millis },
                feeds: { databases: Always },
                example: "dsn_env = \"SWITCHBOARD_UNSET_DSN\"";
            /// A DNS zone's public names, asked of each authoritative server.
            Dns = "dns", dns::DnsConfig, poll: { interval_millis: millis },
                feeds: {},
                example: "zone = \"example.test\"\nservers = [\"{addr}\"]\n[[record]]\nname = \"www\"";
        }
    };
}
