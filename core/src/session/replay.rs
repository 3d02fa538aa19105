//! Replay of a session file through the one reducer ([`State::apply`]); there is no
//! second implementation of the state.
//!
//! [`Replay::index`] reads the file once: it folds every event, compares the state's
//! fingerprint with every recorded keyframe (determinism, checked on open), keeps a
//! bounded number of checkpoints (the state's snapshot, compressed, evenly spaced) and
//! notes the moments worth jumping to. After it, [`Replay::state_at_seq`] starts from the nearest
//! checkpoint at or before the moment and folds at most one spacing of events, so a
//! seek costs the same anywhere in the file. A checkpoint is kept packed (a tenth of a
//! live copy's size, unpacked in a millisecond or two for a few hundred instances), so
//! ten times more fit in the same memory and a seek folds ten times fewer events.
//!
//! Damage never panics: a file cut short or a damaged row ends the replayable prefix
//! with a warning; events of kinds this build does not know are kept raw and the rest
//! replays.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::{Keyframe, RawEvent, Row, SessionError, SessionMeta, SessionReader};
use crate::state::{LogEntry, State};
use crate::time::Timestamp;

/// At most this many checkpoints are kept, evenly spaced over the file...
pub const MAX_CHECKPOINTS: i64 = 4_000;
/// ...and at most this many bytes of them (a large fleet gets fewer, further apart:
/// every other one is dropped and the spacing doubles).
pub const CHECKPOINT_BUDGET: usize = 256 * 1024 * 1024;
/// The fewest events between two checkpoints: closer, packing them costs more than
/// folding the events.
const MIN_SPACING: i64 = 1_000;
/// zstd's fastest level: a checkpoint is packed while the file is read.
const PACK_LEVEL: i32 = 1;

/// A state to start a seek from.
enum Checkpoint {
    /// The file's starting state, as it is.
    Live(Arc<State>),
    /// A snapshot ([`State::to_snapshot`]) compressed, and its length unpacked.
    Packed(Box<[u8]>, usize),
}

impl Checkpoint {
    fn pack(state: &State) -> Self {
        let snap = state.to_snapshot();
        // Compressing into a growable buffer fails only when out of memory; then keep
        // the snapshot as it is.
        match zstd::bulk::compress(&snap, PACK_LEVEL) {
            Ok(packed) if packed.len() < snap.len() => {
                Self::Packed(packed.into_boxed_slice(), snap.len())
            }
            _ => Self::Packed(snap.into_boxed_slice(), 0),
        }
    }

    /// Bytes it holds (a live state counts as none: the replay holds it anyway).
    fn bytes(&self) -> usize {
        match self {
            Self::Live(_) => 0,
            Self::Packed(b, _) => b.len(),
        }
    }

    fn state(&self) -> Result<State, String> {
        match self {
            Self::Live(s) => Ok((**s).clone()),
            Self::Packed(b, 0) => State::from_snapshot(b),
            Self::Packed(b, n) => {
                let snap = zstd::bulk::decompress(b, *n).map_err(|e| e.to_string())?;
                State::from_snapshot(&snap)
            }
        }
    }
}
/// Raw (unknown-kind) events kept for display.
const MAX_RAW: usize = 10_000;

/// How the recorded keyframes compared with the replay.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Keyframes reached by the replay.
    pub checked: usize,
    /// Of those, how many matched.
    pub matched: usize,
    /// The first that did not, with the replay's hash.
    pub first_mismatch: Option<(Keyframe, String)>,
}

impl Verification {
    /// Every keyframe reached matched.
    pub fn ok(&self) -> bool {
        self.first_mismatch.is_none()
    }

    /// Checks the keyframes up to `seq` (from `*next` on, which it moves past them):
    /// the one at `seq` against `state`'s digest.
    fn check_up_to(&mut self, keyframes: &[Keyframe], next: &mut usize, seq: i64, state: &State) {
        while *next < keyframes.len() && keyframes[*next].seq <= seq {
            if keyframes[*next].seq == seq {
                let hash = state.digest();
                self.checked += 1;
                if hash == keyframes[*next].hash {
                    self.matched += 1;
                } else if self.first_mismatch.is_none() {
                    self.first_mismatch = Some((keyframes[*next].clone(), hash));
                }
            }
            *next += 1;
        }
    }
}

/// What a moment worth jumping to is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkKind {
    /// An incident opened or recovered.
    Incident,
    /// A breaker changed state.
    Flip,
    /// A consensus or database leader changed.
    Leader,
    /// An operator's action (acknowledge, drill fault) or a workflow.
    Action,
    /// Anything else the console logged as a warning or worse.
    Warning,
    /// An operator's note (from the session's attachments, or the local store).
    Note,
    /// A journaled workflow step.
    Workflow,
}

/// A moment worth jumping to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mark {
    /// The event that caused it.
    pub seq: i64,
    /// When.
    pub at: Timestamp,
    /// What.
    pub kind: MarkKind,
    /// The log line.
    pub text: String,
}

fn classify(e: &LogEntry) -> Option<MarkKind> {
    use crate::state::Severity;
    let m = e.message.as_str();
    if e.subject.starts_with("incident") {
        Some(MarkKind::Incident)
    } else if m.starts_with("breaker ") {
        Some(MarkKind::Flip)
    } else if m.contains("leader") || m.contains("primary is") {
        Some(MarkKind::Leader)
    } else if m.contains("acknowledged") || m.contains("fault injected") || m.contains("intent") {
        Some(MarkKind::Action)
    } else if matches!(e.severity, Severity::Warn | Severity::Critical) {
        Some(MarkKind::Warning)
    } else {
        None
    }
}

/// A session opened for replay.
pub struct Replay {
    reader: SessionReader,
    meta: SessionMeta,
    span: Option<(Timestamp, Timestamp, i64)>,
    keyframes: Vec<Keyframe>,
    /// (seq, the state after it); the first is the file's starting state.
    checkpoints: Vec<(i64, Checkpoint)>,
    /// The file's starting state (empty, or a segment's base) and its sequence number.
    base: (i64, Arc<State>),
    spacing: i64,
    /// The last event of the replayable prefix.
    valid_to: i64,
    indexed: bool,
    verification: Verification,
    marks: Vec<Mark>,
    raw: Vec<RawEvent>,
    raw_count: u64,
    warnings: Vec<String>,
}

impl Replay {
    /// Opens `path`: checks it is a session of a format this build reads and reads its
    /// metadata, span and keyframes (fast; [`Replay::index`] reads the events).
    pub fn open(path: &Path) -> Result<Self, SessionError> {
        let reader = SessionReader::open(path)?;
        let meta = reader.meta()?;
        let span = reader.span()?;
        let keyframes = reader.keyframes()?;
        let (base_seq, base) = reader.base()?.unwrap_or_default();
        let last = span.map_or(base_seq, |s| s.2);
        let mut warnings = Vec::new();
        let format = reader.format()?;
        if format < 2 {
            warnings.push(format!(
                "format {format} has no keyframes: the replay cannot be checked against them"
            ));
        }
        let base = Arc::new(base);
        Ok(Self {
            reader,
            meta,
            span,
            keyframes,
            checkpoints: vec![(base_seq, Checkpoint::Live(Arc::clone(&base)))],
            base: (base_seq, base),
            spacing: ((last - base_seq) / MAX_CHECKPOINTS).max(MIN_SPACING),
            valid_to: last,
            indexed: false,
            verification: Verification::default(),
            marks: Vec::new(),
            raw: Vec::new(),
            raw_count: 0,
            warnings,
        })
    }

    /// The recording's metadata.
    pub fn meta(&self) -> &SessionMeta {
        &self.meta
    }

    /// First and last event times (`None`: no events).
    pub fn span(&self) -> Option<(Timestamp, Timestamp)> {
        self.span.map(|(a, b, _)| (a, b))
    }

    /// The last event that can be replayed.
    pub fn last_seq(&self) -> i64 {
        self.valid_to
    }

    /// The last event folded into the file's starting state (0 unless the file is a
    /// segment that starts from the state the console had).
    pub fn first_seq(&self) -> i64 {
        self.base.0
    }

    /// Checkpoints kept, and the bytes they hold (packed).
    pub fn checkpoints(&self) -> (usize, usize) {
        let bytes = self.checkpoints.iter().map(|(_, c)| c.bytes()).sum();
        (self.checkpoints.len(), bytes)
    }

    /// Events between two checkpoints: the most a seek folds.
    pub fn spacing(&self) -> i64 {
        self.spacing
    }

    /// The recorded keyframes.
    pub fn keyframes(&self) -> &[Keyframe] {
        &self.keyframes
    }

    /// The keyframe check, once indexed.
    pub fn verification(&self) -> &Verification {
        &self.verification
    }

    /// Moments worth jumping to, in order (once indexed).
    pub fn marks(&self) -> &[Mark] {
        &self.marks
    }

    /// Events of kinds this build does not know (the first ten thousand), and how many
    /// there were.
    pub fn raw(&self) -> (&[RawEvent], u64) {
        (&self.raw, self.raw_count)
    }

    /// What the user should know: damage, unknown kinds, mismatched keyframes.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Adds the notes (`[{"pinned_at": ms, "author", "body", ...}]`) and workflow runs
    /// (`[{"run", "kind", "target", "operator", "steps": [{"at": ms, "phase", "action",
    /// "outcome"}]}]`) of `attachments` as marks; entries it cannot read are skipped.
    pub fn add_marks(&mut self, notes: &serde_json::Value, journal: &serde_json::Value) {
        let text = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
        let mut added = Vec::new();
        for n in notes.as_array().into_iter().flatten() {
            if let Some(at) = n["pinned_at"].as_i64() {
                let body = text(n, "body");
                let first = body.lines().next().unwrap_or_default().to_owned();
                added.push((
                    Timestamp(at),
                    MarkKind::Note,
                    format!("note by {}: {first}", text(n, "author")),
                ));
            }
        }
        for r in journal.as_array().into_iter().flatten() {
            for st in r["steps"].as_array().into_iter().flatten() {
                if let Some(at) = st["at"].as_i64() {
                    added.push((
                        Timestamp(at),
                        MarkKind::Workflow,
                        format!(
                            "run #{} {} {} by {}: {} {} — {}",
                            r["run"].as_i64().unwrap_or(0),
                            text(r, "kind"),
                            text(r, "target"),
                            text(r, "operator"),
                            text(st, "phase"),
                            text(st, "action"),
                            text(st, "outcome")
                        ),
                    ));
                }
            }
        }
        for (at, kind, text) in added {
            let seq = self.seq_at(at).unwrap_or(0);
            self.marks.push(Mark {
                seq,
                at,
                kind,
                text,
            });
        }
        self.marks.sort_by_key(|m| (m.at, m.seq));
    }

    /// Whether [`Replay::index`] has run.
    pub fn indexed(&self) -> bool {
        self.indexed
    }

    /// The reader, for listing events.
    pub fn reader(&self) -> &SessionReader {
        &self.reader
    }

    /// Reads the whole file once: folds every event, checks every keyframe, keeps the
    /// checkpoints and the marks. `progress(seq, last)` is called now and then. A
    /// damaged row ends the replayable prefix with a warning (not an error).
    pub fn index(&mut self, progress: &mut dyn FnMut(i64, i64)) {
        let (base_seq, base) = self.base.clone();
        let mut state = (*base).clone();
        let mut kf = 0usize;
        let last = self.valid_to;
        let mut spacing = self.spacing;
        let mut last_checkpoint = base_seq;
        let mut checkpoints = vec![(base_seq, Checkpoint::Live(base))];
        let mut packed = 0usize;
        let mut marks = Vec::new();
        let mut raw = Vec::new();
        let mut raw_count = 0u64;
        let mut verification = Verification::default();
        let keyframes = &self.keyframes;
        let mut last_seen = base_seq;
        // The keyframe at the base checks the stored snapshot itself.
        verification.check_up_to(keyframes, &mut kf, base_seq, &state);
        let result = self.reader.rows(base_seq, last, |row| match row {
            Row::Event(seq, ev) => {
                let logged = state.log.back().map(Arc::as_ptr);
                state.apply(&ev);
                if state.log.back().map(Arc::as_ptr) != logged
                    && let Some(e) = state.log.back()
                    && let Some(kind) = classify(e)
                {
                    marks.push(Mark {
                        seq,
                        at: e.at,
                        kind,
                        text: format!("{}: {}", e.subject, e.message),
                    });
                }
                verification.check_up_to(keyframes, &mut kf, seq, &state);
                if seq - last_checkpoint >= spacing {
                    let c = Checkpoint::pack(&state);
                    packed += c.bytes();
                    checkpoints.push((seq, c));
                    last_checkpoint = seq;
                    if checkpoints.len() as i64 > MAX_CHECKPOINTS || packed > CHECKPOINT_BUDGET {
                        let mut i = 0;
                        checkpoints.retain(|_| {
                            i += 1;
                            i % 2 == 1
                        });
                        packed = checkpoints.iter().map(|(_, c)| c.bytes()).sum();
                        spacing *= 2;
                    }
                }
                if seq % 50_000 == 0 {
                    progress(seq, last);
                }
                last_seen = seq;
            }
            Row::Raw(r) => {
                raw_count += 1;
                if raw.len() < MAX_RAW {
                    raw.push(r.clone());
                }
                last_seen = r.seq;
            }
        });
        if let Err(e) = result {
            self.warnings.push(format!(
                "{e}: the replay stops at event {last_seen}, the last readable one"
            ));
            self.valid_to = last_seen;
        }
        if raw_count > 0 {
            let mut kinds: Vec<&str> = raw.iter().map(|r| r.kind.as_str()).collect();
            kinds.sort_unstable();
            kinds.dedup();
            self.warnings.push(format!(
                "{raw_count} event(s) of kinds this build does not know ({}) are shown raw; the rest replays",
                kinds.join(", ")
            ));
        }
        if let Some((k, got)) = &verification.first_mismatch {
            self.warnings.push(format!(
                "the replay differs from the recording from event {} on (keyframe {} expected, {got} replayed): {} of {} keyframes match",
                k.seq, k.hash, verification.matched, verification.checked
            ));
        }
        progress(self.valid_to, last);
        self.spacing = spacing;
        self.checkpoints = checkpoints;
        self.marks = marks;
        self.raw = raw;
        self.raw_count = raw_count;
        self.verification = verification;
        self.indexed = true;
        // The saved session's own notes and workflow runs.
        let attached = |k: &str| {
            self.reader
                .attachment(k)
                .ok()
                .flatten()
                .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
                .unwrap_or(serde_json::Value::Null)
        };
        let (notes, journal) = (attached("notes"), attached("journal"));
        self.add_marks(&notes, &journal);
    }

    /// The state after event `seq` (clamped to the replayable prefix).
    pub fn state_at_seq(&self, seq: i64) -> Result<State, SessionError> {
        let seq = seq.clamp(self.base.0, self.valid_to.max(self.base.0));
        let i = self.checkpoints.partition_point(|(s, _)| *s <= seq);
        let (from, base) = &self.checkpoints[i.saturating_sub(1)];
        let mut state = base.state().map_err(|why| SessionError::Corrupt {
            seq: *from,
            reason: format!("the replay's checkpoint there does not unpack: {why}"),
            path: self.reader.path().to_owned(),
        })?;
        self.reader.rows(*from, seq, |row| {
            if let Row::Event(_, ev) = row {
                state.apply(&ev);
            }
        })?;
        Ok(state)
    }

    /// The last event at or before `at`.
    pub fn seq_at(&self, at: Timestamp) -> Result<i64, SessionError> {
        Ok(self
            .reader
            .seq_at(at)?
            .clamp(self.base.0, self.valid_to.max(self.base.0)))
    }

    /// The state as it was at `at`.
    pub fn state_at(&self, at: Timestamp) -> Result<State, SessionError> {
        self.state_at_seq(self.seq_at(at)?)
    }
}

/// A moment given as RFC 3339 or as an offset from the session's first event (`+90s`,
/// `+2m`, `+1h`, `+1500ms`).
pub fn parse_moment(text: &str, start: Timestamp) -> Result<Timestamp, String> {
    let t = text.trim();
    if let Some(rest) = t.strip_prefix('+') {
        let (num, unit) = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .map_or((rest, "s"), |i| rest.split_at(i));
        let n: f64 = num
            .parse()
            .map_err(|_| format!("{text:?}: expected an offset like +90s, +2m or +1h"))?;
        let ms = match unit {
            "ms" => n,
            "s" | "" => n * 1000.0,
            "m" | "min" => n * 60_000.0,
            "h" => n * 3_600_000.0,
            other => return Err(format!("{text:?}: unknown unit {other:?} (ms, s, m, h)")),
        };
        return Ok(Timestamp(start.0 + ms.round() as i64));
    }
    Timestamp::parse_rfc3339(t).map_err(|_| {
        format!("{text:?}: expected RFC 3339 (2026-11-23T03:12:00Z) or an offset like +90s")
    })
}
