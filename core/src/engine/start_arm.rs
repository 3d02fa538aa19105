//! The start arm of every kind of source, generated from the sources table
//! (`sources/table.rs`): how each configured source becomes a running task. It lives
//! in the engine, which reads the config and starts the sources, so the sources need
//! not know the config's enum.

use crate::config::SourceConfig;
use crate::sources::{Emitter, Started};

/// Generates [`start_source`] from the sources table (`sources/table.rs`).
macro_rules! source_start {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $name:literal, $module:ident :: $config:ident,
        poll: { $($field:ident : $unit:ident)? },
        feeds: { $($pane:ident : $feed:ident),* },
        example: $example:literal
        $(, start: $start:path)?;
    )*) => {
        /// Starts the source `cfg` describes on `runtime`, sending through `emitter`,
        /// with its transport watcher beside it when it has endpoints to watch.
        /// A source never panics the engine: whatever goes wrong, it reports itself down.
        pub(super) fn start_source(
            cfg: SourceConfig,
            emitter: Emitter,
            runtime: &tokio::runtime::Handle,
        ) -> Started {
            match cfg {
                $(SourceConfig::$variant(c) => {
                    if let Some(probe) = crate::sources::Settings::probe(&c) {
                        runtime.spawn(crate::sources::transport::watch(probe, emitter.clone()));
                    }
                    start_arm!(runtime, c, emitter, $module $(, $start)?)
                })*
            }
        }
    };
}

/// One arm: spawn the module's `run`, or call the line's own start function.
macro_rules! start_arm {
    ($runtime:ident, $cfg:ident, $emitter:ident, $module:ident) => {{
        $runtime.spawn(crate::sources::$module::run($cfg, $emitter));
        Started::default()
    }};
    ($runtime:ident, $cfg:ident, $emitter:ident, $module:ident, $start:path) => {
        $start($cfg, $emitter, $runtime)
    };
}

crate::source_table!(source_start);

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::config::{Config, Environment};
    use crate::event::EventBody;
    use crate::model::{SourceId, SourceKind};
    use crate::sources::Emitter;
    use crate::time::SystemClock;

    /// A `host:port` on 127.0.0.1 where nothing listens.
    fn closed_port() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        addr.to_string()
    }

    #[test]
    fn every_kind_parses_describes_itself_and_round_trips_its_config() {
        assert!(!SourceKind::SOURCES.is_empty());
        assert!(!SourceKind::SOURCES.contains(&SourceKind::Engine));
        for &kind in SourceKind::SOURCES {
            assert_eq!(SourceKind::parse(kind.as_str()), Some(kind), "{kind:?}");
            assert!(!kind.describe().is_empty(), "{kind:?} has a description");
            let json = serde_json::to_string(&kind).expect("json");
            assert_eq!(
                json,
                format!("\"{}\"", kind.as_str()),
                "one name everywhere"
            );
            let cfg = SourceConfig::example(kind, "x", "127.0.0.1:9").expect("example parses");
            assert_eq!((cfg.kind(), cfg.name()), (kind, "x"));
            let config = Config {
                environment: vec![Environment::new("lab", vec![cfg])],
            };
            let round = Config::parse(&config.to_toml(), Path::new("r.toml"))
                .unwrap_or_else(|e| panic!("{kind:?} round-trips: {e}"));
            assert_eq!(round, config, "{kind:?}");
        }
        assert_eq!(SourceKind::parse("engine"), Some(SourceKind::Engine));
        assert_eq!(SourceKind::parse("zookeeper"), None);
    }

    /// Every kind's start arm runs its task: pointed at a closed port, each reports its
    /// own status (down, or up for what needs no network) instead of panicking.
    #[test]
    fn every_kind_starts_and_reports_its_status() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let addr = closed_port();
        let mut drill = None;
        for &kind in SourceKind::SOURCES {
            let cfg = SourceConfig::example(kind, kind.as_str(), &addr).expect("example");
            let emitter = Emitter::new(
                SourceId::new(kind.as_str()),
                kind,
                tx.clone(),
                Arc::new(SystemClock),
            );
            let started = start_source(cfg, emitter, runtime.handle());
            drill = drill.or(started.drill);
        }
        assert!(drill.is_some(), "the drill hands back its command channel");
        let mut status = BTreeMap::new();
        runtime.block_on(async {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            while status.len() < SourceKind::SOURCES.len() {
                let Ok(Some(ev)) = tokio::time::timeout_at(deadline, rx.recv()).await else {
                    break;
                };
                if let EventBody::SourceStatus {
                    source_kind,
                    status: s,
                    ..
                } = ev.body
                {
                    status.entry(source_kind.as_str()).or_insert(s);
                }
            }
        });
        let silent: Vec<_> = SourceKind::SOURCES
            .iter()
            .filter(|k| !status.contains_key(k.as_str()))
            .collect();
        assert!(
            silent.is_empty(),
            "no status from {silent:?}; got {status:?}"
        );
        runtime.shutdown_background();
    }
}
