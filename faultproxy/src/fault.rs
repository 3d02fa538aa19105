//! The faults a proxy can apply, and their names on the command line
//! (`pass`, `latency:500ms`, `slowloris:100ms`, `truncate:64`, …).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// What the proxy does to connections. Faults that shape forwarded bytes (`Pass`,
/// `Latency`, `Slowloris`, `Truncate`, `Silence`) apply to established connections as
/// soon as they are set; faults that forge or refuse an answer (`Garbage`, `Html200`,
/// `Huge`, `Refuse`) close established connections, so the client's next connection
/// meets them (a keep-alive connection would otherwise never see them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Plain forwarding.
    Pass,
    /// Each chunk, both ways, delivered this long after it was read (pipelined: a real
    /// added round-trip, not a throughput cap).
    Latency(Duration),
    /// New connections are accepted and never answered nor forwarded (what a client
    /// sees of a dropped SYN once its connect is through: nothing, ever). Connections
    /// already made keep flowing, as behind a stateful firewall that drops new flows;
    /// [`Fault::Silence`] is the full partition.
    Blackhole,
    /// A partition after connect: nothing moves on established connections, either
    /// way, and new ones are held unanswered. When the fault is lifted, held bytes flow
    /// again and held new connections reach the upstream, as after a healed partition
    /// (TCP retransmits).
    Silence,
    /// The peer vanished without a FIN (a crashed host, a NAT that forgot the flow):
    /// the client's side looks open, its writes are taken, nothing ever comes back and
    /// the connection is never closed. Established connections lose their upstream for
    /// good (lifting the fault does not revive them); new ones are held that way.
    HalfOpen,
    /// The upstream's answer delivered one byte at a time, this long apart.
    Slowloris(Duration),
    /// Random bytes answer whatever was asked (4 KiB), then the connection closes.
    Garbage,
    /// `HTTP/1.1 200 OK` with an HTML login page, whatever was asked: a captive portal
    /// or an SSO proxy in front of the real address.
    Html200,
    /// The upstream's answer cut after this many bytes (per connection), then closed.
    Truncate(usize),
    /// Valid HTTP/1.1 `200 OK` headers (JSON, no length), then a body without end.
    Huge,
    /// The connection is reset at once (RST: what a client of a closed port sees).
    Refuse,
}

impl Fault {
    /// Whether this fault forges or refuses the answer, so established connections are
    /// closed when it is set.
    pub(crate) fn replaces_the_answer(self) -> bool {
        matches!(
            self,
            Self::Garbage | Self::Html200 | Self::Huge | Self::Refuse
        )
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pass => f.write_str("pass"),
            Self::Latency(d) => write!(f, "latency:{}ms", d.as_millis()),
            Self::Blackhole => f.write_str("blackhole"),
            Self::Silence => f.write_str("silence"),
            Self::HalfOpen => f.write_str("half_open"),
            Self::Slowloris(d) => write!(f, "slowloris:{}ms", d.as_millis()),
            Self::Garbage => f.write_str("garbage"),
            Self::Html200 => f.write_str("html200"),
            Self::Truncate(n) => write!(f, "truncate:{n}"),
            Self::Huge => f.write_str("huge"),
            Self::Refuse => f.write_str("refuse"),
        }
    }
}

/// A fault name that is not one of ours, or a bad argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseFaultError(String);

impl fmt::Display for ParseFaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseFaultError {}

/// `500ms`, `2s`, `1.5s`, or a bare number of milliseconds.
fn duration(text: &str) -> Option<Duration> {
    if let Some(ms) = text.strip_suffix("ms") {
        return ms.trim().parse().ok().map(Duration::from_millis);
    }
    if let Some(s) = text.strip_suffix('s') {
        return s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
    }
    text.trim().parse().ok().map(Duration::from_millis)
}

impl FromStr for Fault {
    type Err = ParseFaultError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (name, arg) = match text.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (text, None),
        };
        let need = |what: &str| {
            ParseFaultError(format!(
                "{name} needs {what}, as in {name}:{}",
                if what == "a byte count" {
                    "64"
                } else {
                    "500ms"
                }
            ))
        };
        let fault = match (name.replace('-', "_").as_str(), arg) {
            ("pass", None) => Self::Pass,
            ("blackhole", None) => Self::Blackhole,
            ("silence", None) => Self::Silence,
            ("half_open", None) => Self::HalfOpen,
            ("garbage", None) => Self::Garbage,
            ("html200", None) => Self::Html200,
            ("huge", None) => Self::Huge,
            ("refuse", None) => Self::Refuse,
            ("latency", a) => Self::Latency(a.and_then(duration).ok_or_else(|| need("a delay"))?),
            ("slowloris", a) => {
                Self::Slowloris(a.and_then(duration).ok_or_else(|| need("a delay"))?)
            }
            ("truncate", a) => Self::Truncate(
                a.and_then(|a| a.trim().parse().ok())
                    .ok_or_else(|| need("a byte count"))?,
            ),
            _ => {
                return Err(ParseFaultError(format!(
                    "unknown fault {text:?}: pass, latency:DELAY, blackhole, silence, half_open, \
                     slowloris:DELAY, garbage, html200, truncate:BYTES, huge or refuse"
                )));
            }
        };
        Ok(fault)
    }
}
