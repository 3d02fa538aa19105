//! How a source's connection is secured, as the console shows it: verified TLS,
//! TLS without verification (INSECURE, only ever set by a person), or plaintext; and
//! when the certificates on that connection expire. An expired certificate is a
//! common cause of the outages this console is opened for, so the dates are shown
//! beside the source, not hidden in a log.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Days under which a certificate's coming expiry is a warning.
pub const CERT_WARN_DAYS: i64 = 14;

const DAY_MILLIS: i64 = 86_400_000;

/// Whether a connection is TLS, and whether its server was verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// TLS, with the server's certificate checked against the trusted CAs and its name.
    Verified,
    /// TLS without checking the server (`insecure_skip_verify`, libpq's `require`
    /// without a root certificate): anyone on the path can pose as it.
    Insecure,
    /// No TLS: what is said on the wire can be read and changed.
    Plaintext,
}

impl TlsMode {
    /// `verified`, `insecure` or `plaintext`, as `status --json` says it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Verified => "verified",
            Self::Insecure => "insecure",
            Self::Plaintext => "plaintext",
        }
    }
}

/// A source's connection: its TLS and its certificates' expiry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transport {
    /// TLS or not, verified or not.
    pub tls: TlsMode,
    /// When the certificate the server presented stops being valid, once seen.
    pub server_cert_not_after: Option<Timestamp>,
    /// When the client certificate this console presents stops being valid.
    pub client_cert_not_after: Option<Timestamp>,
    /// Whose certificate that is, for the operator: its subject and the endpoint that
    /// presented it (`CN=etcd.rig.test at https://10.0.0.7:2379`).
    pub server_cert_subject: Option<String>,
}

impl Transport {
    /// A connection in `tls` mode whose certificates are not known yet.
    pub const fn new(tls: TlsMode) -> Self {
        Self {
            tls,
            server_cert_not_after: None,
            client_cert_not_after: None,
            server_cert_subject: None,
        }
    }

    /// Whole days from `now` until the server's certificate expires (negative once it
    /// has), if known.
    pub fn server_cert_days(&self, now: Timestamp) -> Option<i64> {
        self.server_cert_not_after.map(|t| days_until(t, now))
    }

    /// Whole days from `now` until the client certificate expires, if one is presented.
    pub fn client_cert_days(&self, now: Timestamp) -> Option<i64> {
        self.client_cert_not_after.map(|t| days_until(t, now))
    }

    /// What is wrong with this connection's security as of `now`, worst first, in an
    /// operator's words: INSECURE, an expired certificate (with its date), one expiring
    /// within [`CERT_WARN_DAYS`]. Empty when there is nothing to say (plaintext is a
    /// fact shown beside the source, not a warning: many estates run it inside).
    pub fn concerns(&self, now: Timestamp) -> Vec<Concern> {
        let mut out = Vec::new();
        if self.tls == TlsMode::Insecure {
            out.push(Concern {
                error: true,
                words: "INSECURE: TLS without checking the server's certificate: anyone on the path can pose as the server"
                    .to_owned(),
            });
        }
        let seen = self
            .server_cert_subject
            .as_ref()
            .map(|s| format!(": {s}"))
            .unwrap_or_default();
        for (whose, at, seen) in [
            ("server", self.server_cert_not_after, seen.as_str()),
            ("client", self.client_cert_not_after, ""),
        ] {
            let Some(at) = at else { continue };
            let days = days_until(at, now);
            let date = at.to_rfc3339();
            let date = date.get(..10).unwrap_or(&date);
            if at <= now {
                out.push(Concern {
                    error: true,
                    words: format!("the {whose} certificate expired on {date}{seen}"),
                });
            } else if days < CERT_WARN_DAYS {
                out.push(Concern {
                    error: false,
                    words: format!(
                        "the {whose} certificate expires in {} ({date}){seen}",
                        plural_days(days)
                    ),
                });
            }
        }
        out
    }
}

/// One thing wrong with a connection's security.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Concern {
    /// An error (insecure, expired) rather than a warning (expiring soon).
    pub error: bool,
    /// What it is, for the operator.
    pub words: String,
}

/// Whole days from `now` to `at`, rounded down; negative once `at` has passed.
fn days_until(at: Timestamp, now: Timestamp) -> i64 {
    at.millis_since(now).div_euclid(DAY_MILLIS)
}

fn plural_days(days: i64) -> String {
    match days {
        0 => "less than a day".to_owned(),
        1 => "1 day".to_owned(),
        n => format!("{n} days"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_800_000_000_000);

    #[test]
    fn days_round_down_and_go_negative_once_expired() {
        let mut t = Transport::new(TlsMode::Verified);
        t.server_cert_not_after = Some(NOW.plus_millis(3 * DAY_MILLIS - 1));
        assert_eq!(t.server_cert_days(NOW), Some(2));
        t.server_cert_not_after = Some(NOW.plus_millis(-1));
        assert_eq!(t.server_cert_days(NOW), Some(-1));
        assert_eq!(t.client_cert_days(NOW), None);
    }

    #[test]
    fn concerns_say_insecure_expired_and_expiring_but_not_a_distant_expiry() {
        let mut t = Transport::new(TlsMode::Insecure);
        t.server_cert_not_after = Some(NOW.plus_millis(-2 * DAY_MILLIS));
        t.client_cert_not_after = Some(NOW.plus_millis(3 * DAY_MILLIS + 5));
        let c = t.concerns(NOW);
        assert_eq!(c.len(), 3, "{c:?}");
        assert!(c[0].error && c[0].words.starts_with("INSECURE"), "{c:?}");
        assert!(
            c[1].error
                && c[1]
                    .words
                    .contains("server certificate expired on 2027-01-"),
            "{c:?}"
        );
        assert!(
            !c[2].error && c[2].words.contains("client certificate expires in 3 days"),
            "{c:?}"
        );
        t.tls = TlsMode::Verified;
        t.server_cert_not_after = Some(NOW.plus_millis(CERT_WARN_DAYS * DAY_MILLIS));
        t.client_cert_not_after = None;
        assert!(t.concerns(NOW).is_empty());
        assert!(Transport::new(TlsMode::Plaintext).concerns(NOW).is_empty());
    }
}
