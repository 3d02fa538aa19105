//! Sessions and this machine's stores: the incidents, notes and workflow runs of a
//! span, gathered from `notes.sqlite` and `journal.sqlite` in the data directory, to
//! save with a session (File → Save session) or to show as marks when replaying a
//! session recorded here.

use std::path::Path;

use serde_json::{Value, json};
use switchboard_core::Timestamp;
use switchboard_core::store::Store;
use switchboard_core::workflow::Journal;

/// The attachments of [from, to]: (incidents with their timelines, notes, workflow
/// runs with their steps), as JSON arrays. Stores that cannot be read give empty ones.
pub fn gather(data_dir: &Path, from: Timestamp, to: Timestamp) -> (Value, Value, Value) {
    let (mut incidents, mut notes, mut runs) = (Vec::new(), Vec::new(), Vec::new());
    let store_path = data_dir.join("notes.sqlite");
    if store_path.exists()
        && let Ok(o) = Store::open(&store_path)
    {
        let s = o.store;
        for i in s.incidents().unwrap_or_default() {
            let ends = i.resolved_at.unwrap_or(Timestamp(i64::MAX));
            if i.started_at <= to && ends >= from {
                incidents.push(json!({
                    "incident": i,
                    "timeline": s.timeline(i.id).unwrap_or_default(),
                    "actions": s.actions(i.id).unwrap_or_default(),
                }));
            }
        }
        notes = s
            .notes(None)
            .unwrap_or_default()
            .into_iter()
            .filter(|n| (from..=to).contains(&n.pinned_at))
            .map(|n| serde_json::to_value(n).unwrap_or(Value::Null))
            .collect();
    }
    let journal_path = data_dir.join("journal.sqlite");
    if journal_path.exists()
        && let Ok(j) = Journal::open(&journal_path)
    {
        for r in j.recent(1000).unwrap_or_default() {
            if !(from..=to).contains(&r.started_at) {
                continue;
            }
            let steps: Vec<Value> = j
                .steps(r.id)
                .unwrap_or_default()
                .into_iter()
                .map(|st| {
                    json!({
                        "at": st.at.0, "phase": st.phase, "action": st.action,
                        "outcome": st.outcome, "detail": st.detail,
                    })
                })
                .collect();
            runs.push(json!({
                "run": r.id, "kind": r.kind, "target": r.target, "operator": r.operator,
                "environment": r.environment, "started_at": r.started_at.0,
                "outcome": r.outcome, "steps": steps,
            }));
        }
    }
    (
        Value::Array(incidents),
        Value::Array(notes),
        Value::Array(runs),
    )
}

/// Saves [from, to] of the session `src` to the new file `dst`, with this machine's
/// incidents, notes and workflow runs of that span. Returns a line for the user.
pub fn save(
    src: &Path,
    dst: &Path,
    from: Timestamp,
    to: Timestamp,
    data_dir: Option<&Path>,
) -> Result<String, String> {
    let (incidents, notes, journal) = data_dir.map_or(
        (
            Value::Array(Vec::new()),
            Value::Array(Vec::new()),
            Value::Array(Vec::new()),
        ),
        |d| gather(d, from, to),
    );
    let counts = (
        incidents.as_array().map_or(0, Vec::len),
        notes.as_array().map_or(0, Vec::len),
        journal.as_array().map_or(0, Vec::len),
    );
    // Every segment of the recording still on disk: the span may begin in an earlier one.
    let segments = switchboard_core::session::segments_of(src);
    let events = switchboard_core::session::save_range(
        &segments,
        dst,
        from,
        to,
        &[
            ("incidents", incidents.to_string()),
            ("notes", notes.to_string()),
            ("journal", journal.to_string()),
        ],
    )
    .map_err(|e| e.to_string())?;
    Ok(format!(
        "saved {} (to event {events}; {} incident(s), {} note(s), {} workflow run(s))",
        dst.display(),
        counts.0,
        counts.1,
        counts.2
    ))
}
