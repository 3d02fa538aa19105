//! Size limits on what the console reads: an answer from a source ([`AnswerLimit`],
//! a default per kind of source, a source's `max_answer_bytes` over it) and a file
//! (a config, a runbook, a layout, a certificate), so that a wrong address or path (a
//! file server, a log stream, `/dev/zero`) or a hostile endpoint cannot fill memory.
//! Going over is an error in words that says what is likely wrong.

use super::connection::redact_url;
use crate::model::SourceKind;

/// The most an answer may hold, and what to ask when one holds more: a source reading a
/// file server, a log stream or a hostile service must go down in words, not take the
/// process's memory. Each kind of source has its default ([`AnswerLimit::of`]); a
/// source's `max_answer_bytes` overrides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnswerLimit {
    /// The most bytes one answer (an HTTP body, a runtime API reply) may hold.
    pub max_bytes: u64,
    /// The question that follows "answer larger than …": what is most likely wrong.
    pub hint: &'static str,
}

impl AnswerLimit {
    /// For a client that belongs to no source (a workflow's check, a runbook step): an
    /// answer it reads is a status page or a small JSON document.
    pub const GENERIC: Self = Self {
        max_bytes: 16 << 20,
        hint: "is this the right address?",
    };

    /// The limit of a source of `kind`: `max_answer_bytes` when set, else the kind's
    /// default. The defaults are declared here, once, for every kind (the match is
    /// exhaustive, so a new kind picks its own): large enough for a big real system
    /// (a mesh's `/stats`, a 10,000-instance catalog), small enough that five hostile
    /// sources stay well under 200 MB together.
    pub const fn of(kind: SourceKind, max_answer_bytes: Option<u64>) -> Self {
        const MIB: u64 = 1 << 20;
        let (default_bytes, hint) = match kind {
            SourceKind::HttpProbe => (MIB, "is this the health endpoint?"),
            SourceKind::Envoy => (32 * MIB, "is this the admin address?"),
            SourceKind::Traefik => (16 * MIB, "is this the API address?"),
            SourceKind::Prometheus => (
                16 * MIB,
                "is this Prometheus's address, and do the queries aggregate?",
            ),
            SourceKind::Patroni => (4 * MIB, "is this Patroni's REST API address?"),
            SourceKind::Haproxy => (16 * MIB, "is this the stats address or socket?"),
            SourceKind::Consul => (32 * MIB, "is this a Consul agent's address?"),
            // A list page of 500 objects (the watcher's page) is a few MB; a watch line
            // one object.
            SourceKind::Kubernetes => (32 * MIB, "is this the API server's address?"),
            SourceKind::Etcd
            | SourceKind::GrpcHealth
            | SourceKind::Postgres
            | SourceKind::Dns
            | SourceKind::Drill
            | SourceKind::Engine => (Self::GENERIC.max_bytes, Self::GENERIC.hint),
        };
        Self {
            max_bytes: match max_answer_bytes {
                Some(b) => b,
                None => default_bytes,
            },
            hint,
        }
    }

    /// Refuses an answer of `len` bytes so far when it is over the limit, in words
    /// naming the limit, the likely mistake and the setting that raises it, `what` (a
    /// URL or a socket) last.
    pub fn check(&self, len: u64, what: &str) -> Result<(), String> {
        if len <= self.max_bytes {
            return Ok(());
        }
        Err(format!(
            "answer larger than {}: {} (max_answer_bytes raises the limit) ({})",
            size_words(self.max_bytes),
            self.hint,
            redact_url(what)
        ))
    }
}

/// `bytes` as an operator reads it: "16 MB", "512 kB", "300 bytes" (binary units, as
/// the defaults are powers of two).
pub fn size_words(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} kB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// A small file (a certificate, a key, a secret) read whole, at most `max_bytes`, or
/// why not in words (the path last): a path pointing at the wrong file cannot fill
/// memory.
pub(crate) fn read_small(path: &str, max_bytes: u64, what: &str) -> Result<Vec<u8>, String> {
    read_bounded(std::path::Path::new(path), max_bytes)
        .map_err(|e| format!("cannot read the {what}: {e} ({path})"))
}

/// A file read whole, at most `max_bytes`: a path pointing at a log, a dump or
/// `/dev/zero` cannot fill memory. Going over is an `InvalidData` error whose words say
/// so ("larger than 4 MB: is it the right file?"); the caller adds the path.
pub fn read_bounded(path: &std::path::Path, max_bytes: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "larger than {}: is it the right file?",
                size_words(max_bytes)
            ),
        ));
    }
    Ok(bytes)
}

/// [`read_bounded`] as UTF-8 text (a config, a runbook, a layout); invalid UTF-8 is an
/// `InvalidData` error, as `std::fs::read_to_string` has it.
pub fn read_text_bounded(path: &std::path::Path, max_bytes: u64) -> std::io::Result<String> {
    String::from_utf8(read_bounded(path, max_bytes)?).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_limits_are_per_kind_and_said_in_words() {
        let envoy = AnswerLimit::of(SourceKind::Envoy, None);
        assert_eq!(envoy.max_bytes, 32 << 20);
        assert_eq!(envoy.check(32 << 20, "http://a:9901/stats"), Ok(()));
        assert_eq!(
            envoy.check((32 << 20) + 1, "http://u:pw@a:9901/stats"),
            Err("answer larger than 32 MB: is this the admin address? (max_answer_bytes raises the limit) (http://***@a:9901/stats)".to_owned())
        );
        let set = AnswerLimit::of(SourceKind::Envoy, Some(1000));
        assert_eq!(set.max_bytes, 1000);
        assert!(
            set.check(1001, "x")
                .is_err_and(|e| e.starts_with("answer larger than 1000 bytes"))
        );
        assert_eq!(size_words(64 << 10), "64 kB");
        assert_eq!(size_words(1 << 20), "1 MB");
        assert_eq!(size_words(1500), "1500 bytes");
    }
}
