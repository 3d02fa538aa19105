//! The relay's wire protocol (`proto/relay.proto`): the generated gRPC client and
//! server, and the encodings of what travels in them.
//!
//! The state and the events go in the encodings the session files already use: the
//! state's snapshot ([`State::to_snapshot`], compressed with zstd, with its fingerprint
//! so the console proves it decoded the state the relay had) and events as JSON lines.
//! A console therefore folds exactly what the relay applied, with the same reducer, and
//! protobuf carries only the envelope. Every decode is bounded: a snapshot larger than
//! [`MAX_SNAPSHOT_BYTES`] once decompressed, or a batch of more than [`MAX_BATCH_EVENTS`]
//! events, is refused in words.
//!
//! [`connect`] dials a relay as a console does (TLS with the person's certificate, or
//! a bearer token), for the engine's link and for tools that talk to a relay.

use std::time::Duration;

use crate::config::RelayClient;
use crate::event::Event;
use crate::sources::http::auth::Credentials;
use crate::state::State;
use crate::time::Timestamp;

/// The generated messages, client and server (tonic and prost).
#[allow(missing_docs, clippy::pedantic, clippy::all)]
pub mod pb {
    tonic::include_proto!("switchboard.relay.v1");
}

/// The largest state a console accepts from a relay, decompressed: a 10,000-instance
/// estate's snapshot is a few megabytes; this leaves room for far more.
pub const MAX_SNAPSHOT_BYTES: u64 = 512 << 20;
/// The largest gRPC message either side reads (a compressed snapshot is the largest).
pub const MAX_MESSAGE_BYTES: usize = 128 << 20;
/// The most events one frame may carry (the engine applies at most 4096 per batch).
pub const MAX_BATCH_EVENTS: usize = 65_536;
/// Bound on connecting to a relay.
const CALL: Duration = Duration::from_secs(10);
/// zstd's level for snapshots: fast, and still a large ratio on the state's repetition.
const LEVEL: i32 = 1;

/// What a person may do through a relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sees everything, changes nothing (walls).
    Viewer,
    /// May acknowledge incidents, write notes and request workflows.
    Operator,
}

impl Role {
    /// Its name on the wire and in the configuration.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
        }
    }

    /// The role named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "viewer" => Some(Self::Viewer),
            "operator" => Some(Self::Operator),
            _ => None,
        }
    }
}

/// A note as the team shares it: the same on the relay and on every console, known by
/// the id its console made for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedNote {
    /// The client-made id (random, 128 bits, hex).
    pub uid: String,
    /// The incident's key on every console (`environment:start:title`), if any.
    pub incident_key: Option<String>,
    /// The person (the relay sets it from the certificate or token that sent it).
    pub author: String,
    /// Markdown.
    pub body: String,
    /// When it was written.
    pub created_at: Timestamp,
    /// When it was last edited (the newest edit wins).
    pub edited_at: Timestamp,
    /// The moment it is about.
    pub pinned_at: Timestamp,
    /// The entity it is about.
    pub entity: Option<String>,
}

impl SharedNote {
    /// Its wire form.
    pub fn to_pb(&self) -> pb::Note {
        pb::Note {
            uid: self.uid.clone(),
            incident: self.incident_key.clone().unwrap_or_default(),
            author: self.author.clone(),
            body: self.body.clone(),
            created_at: self.created_at.0,
            edited_at: self.edited_at.0,
            pinned_at: self.pinned_at.0,
            entity: self.entity.clone().unwrap_or_default(),
        }
    }

    /// From its wire form; a note without an id, or larger than a note can be, is
    /// refused in words.
    pub fn from_pb(n: pb::Note) -> Result<Self, String> {
        if n.uid.trim().is_empty() || n.uid.len() > 128 {
            return Err("a note without a proper id".into());
        }
        if n.body.len() > MAX_NOTE_BYTES {
            return Err(format!(
                "a note of {} kB, more than a note may hold ({} kB)",
                n.body.len() >> 10,
                MAX_NOTE_BYTES >> 10
            ));
        }
        let some = |s: String| Some(s).filter(|s| !s.is_empty());
        Ok(Self {
            uid: n.uid,
            incident_key: some(n.incident),
            author: n.author,
            body: n.body,
            created_at: Timestamp(n.created_at),
            edited_at: Timestamp(n.edited_at),
            pinned_at: Timestamp(n.pinned_at),
            entity: some(n.entity),
        })
    }
}

/// The most a shared note's text may hold.
pub const MAX_NOTE_BYTES: usize = 256 << 10;

/// The snapshot frame of `state` in `environment`.
pub fn encode_snapshot(state: &State, environment: &str) -> pb::Snapshot {
    let raw = state.to_snapshot();
    // Compressing into a growable buffer fails only on an allocation failure.
    let packed = zstd::bulk::compress(&raw, LEVEL).unwrap_or_default();
    pb::Snapshot {
        state: packed,
        raw_len: raw.len() as u64,
        digest: state.digest(),
        environment: environment.to_owned(),
    }
}

/// The state a snapshot frame holds, checked against its fingerprint.
pub fn decode_snapshot(snap: &pb::Snapshot) -> Result<State, String> {
    if snap.raw_len > MAX_SNAPSHOT_BYTES {
        return Err(format!(
            "the relay sent a state of {} MB, more than this console accepts ({} MB)",
            snap.raw_len >> 20,
            MAX_SNAPSHOT_BYTES >> 20
        ));
    }
    let raw = zstd::bulk::decompress(&snap.state, snap.raw_len as usize)
        .map_err(|e| format!("the relay's state snapshot is damaged: {e}"))?;
    let state = State::from_snapshot(&raw)?;
    let digest = state.digest();
    if digest != snap.digest {
        return Err(format!(
            "the relay's state snapshot does not match its fingerprint ({digest}, sent {}); the console and the relay run different versions?",
            snap.digest
        ));
    }
    Ok(state)
}

/// A batch of events as JSON lines.
pub fn encode_events(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.len() * 160);
    for ev in events {
        // An event is plain data; serialising it cannot fail.
        if let Ok(line) = serde_json::to_vec(ev) {
            out.extend(line);
            out.push(b'\n');
        }
    }
    out
}

/// The events of a frame's JSON lines.
pub fn decode_events(lines: &[u8]) -> Result<Vec<Event>, String> {
    let mut out = Vec::new();
    for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        if out.len() == MAX_BATCH_EVENTS {
            return Err(format!(
                "the relay sent more than {MAX_BATCH_EVENTS} events in one frame"
            ));
        }
        let ev = serde_json::from_slice::<Event>(line)
            .map_err(|e| format!("the relay sent an event this console cannot read: {e}"))?;
        out.push(ev);
    }
    Ok(out)
}

/// A connected client of a relay, sending its token with every call.
pub type Conn = pb::relay_client::RelayClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>,
>;

/// Adds the bearer token, when the console has one, to every call.
#[derive(Clone)]
pub struct Bearer(Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// A client of the relay at `target`, connected, with its token.
pub async fn connect(
    target: &RelayClient,
) -> Result<
    pb::relay_client::RelayClient<
        tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>,
    >,
    String,
> {
    let mut endpoint = tonic::transport::Endpoint::from_shared(target.url.clone())
        .map_err(|e| format!("relay {:?} is not an address: {e}", target.url))?
        .connect_timeout(CALL)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(5))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(true);
    if target.url.starts_with("https://") {
        let tls = target.tls.clone().unwrap_or_default();
        endpoint = endpoint
            .tls_config(crate::sources::tonic_tls(&tls)?)
            .map_err(|e| format!("cannot set up TLS to the relay: {e}"))?;
    }
    let bearer = match &target.auth {
        Some(auth) => {
            let token = Credentials::from_settings(auth)?
                .bearer()?
                .ok_or("relay_auth takes a token")?;
            let value = format!("Bearer {}", token.expose())
                .parse()
                .map_err(|_| "the relay token holds characters a header cannot carry")?;
            Some(value)
        }
        None => None,
    };
    let channel = tokio::time::timeout(CALL, endpoint.connect())
        .await
        .map_err(|_| format!("no answer from the relay within {} s", CALL.as_secs()))?
        .map_err(|e| {
            format!(
                "cannot reach the relay: {}",
                crate::sources::error_words(&e)
            )
        })?;
    Ok(
        pb::relay_client::RelayClient::with_interceptor(channel, Bearer(bearer))
            .max_decoding_message_size(MAX_MESSAGE_BYTES),
    )
}

/// A gRPC status from a relay reached with `tls`, in an operator's words.
pub fn status_words(s: &tonic::Status, tls: Option<&crate::sources::TlsSettings>) -> String {
    match s.code() {
        tonic::Code::Unauthenticated => {
            format!("the relay does not know this console: {}", s.message())
        }
        tonic::Code::PermissionDenied => format!("refused by the relay: {}", s.message()),
        tonic::Code::ResourceExhausted => {
            format!("the relay dropped this console: {}", s.message())
        }
        tonic::Code::Unknown | tonic::Code::Unavailable | tonic::Code::Cancelled => {
            let has_cert = tls.is_some_and(|t| t.cert_file.is_some());
            if let Some(words) = crate::sources::tls_words_for(s, tls) {
                format!("cannot reach the relay: {words}")
            } else if has_cert
                && (s.message().contains("transport error")
                    || s.message().contains("operation was canceled"))
            {
                "the relay closed the connection after the TLS handshake: it does not take this console's client certificate (is relay_tls.cert_file signed by the relay's client CA?)".into()
            } else if let Some(words) = crate::sources::transport_words_for(s) {
                format!("the relay is unreachable: {words}")
            } else {
                format!("the relay is unreachable: {}", s.message())
            }
        }
        _ => format!("the relay answered {:?}: {}", s.code(), s.message()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventBody;
    use crate::model::{Health, InstanceId, ServiceId, SourceId};
    use crate::time::Timestamp;

    fn some_state() -> (State, Vec<Event>) {
        let mut s = State::default();
        let evs: Vec<Event> = (0..50)
            .map(|i| {
                Event::new(
                    Timestamp(1_000 + i),
                    SourceId::new("h"),
                    EventBody::InstanceHealth {
                        instance: InstanceId::new(format!("api-{i}")),
                        service: ServiceId::new("api"),
                        health: if i % 7 == 0 {
                            Health::Unhealthy
                        } else {
                            Health::Healthy
                        },
                        detail: None,
                    },
                )
            })
            .collect();
        s.apply_all(&evs);
        (s, evs)
    }

    #[test]
    fn a_snapshot_travels_whole_and_is_checked() {
        let (s, _) = some_state();
        let snap = encode_snapshot(&s, "prod");
        let back = decode_snapshot(&snap).expect("decodes");
        assert_eq!(back.digest(), s.digest());
        assert_eq!(back.instances.len(), 50);

        let mut forged = snap.clone();
        forged.digest = "0000000000000000".into();
        let err = decode_snapshot(&forged).expect_err("a wrong fingerprint is refused");
        assert!(err.contains("fingerprint"), "{err}");

        let mut huge = snap;
        huge.raw_len = MAX_SNAPSHOT_BYTES + 1;
        assert!(decode_snapshot(&huge).expect_err("bounded").contains("MB"));
    }

    #[test]
    fn events_round_trip_and_bad_lines_are_refused() {
        let (_, evs) = some_state();
        let lines = encode_events(&evs);
        assert_eq!(decode_events(&lines).expect("decodes"), evs);
        let err = decode_events(b"{\"at\":1}\n").expect_err("not an event");
        assert!(err.contains("cannot read"), "{err}");
        assert!(decode_events(b"").expect("empty").is_empty());
    }
}
