//! Notes shared through a relay. The relay's store is the team's record; each console
//! keeps a copy in its own store, so a laptop on a train still has the notes.
//!
//! - A note written on a console on a relay is given a random id and marked
//!   `pending` ([`Store::share_note`]) until the relay's copy comes back
//!   ([`Store::receive_note`]), which marks it `shared` and names its author as the
//!   relay does. Written while the relay is out of reach, it stays pending, is shown so,
//!   and is sent again when the relay is back ([`Store::pending_notes`]); the relay
//!   takes a note once whatever the retries, by its id.
//! - A received note is linked to the incident with its key (`incidents.external`).
//!   An incident opened by hand gets its key when its first note is shared; a console
//!   that receives a note of an incident it does not know records the incident from
//!   the key (environment, start, title), so a hand-opened incident reaches every
//!   console with its notes. One detected from the state that this console has not
//!   synced yet is the same row once it does (the key is the same).
//! - The newest edit wins; the text it replaces goes to the note's history.
//! - A status change (triage, mitigated, resolved) made on a console on a relay is a
//!   note of its incident ([`Store::status_note`], entity `status:<status>`), so it
//!   travels, waits and is kept as notes do, and reads as a line of the incident's
//!   timeline; a console receiving it moves its copy of the incident, unless a later
//!   change is already there.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::protocol::SharedNote;
use crate::time::Timestamp;

/// An incident's key (`environment:start:title`) in its parts; `None` when it is not one.
fn parse_key(key: &str) -> Option<(&str, i64, &str)> {
    let mut parts = key.splitn(3, ':');
    let environment = parts.next().filter(|e| !e.is_empty())?;
    let started_at = parts.next()?.parse().ok()?;
    let title = parts.next().filter(|t| !t.trim().is_empty())?;
    Some((environment, started_at, title))
}

/// A status note's entity: this, then the status.
const STATUS_ENTITY: &str = "status:";

/// The most notes sent to a console that connects (the newest).
const NOTES_ON_CONNECT: u32 = 5000;

impl Store {
    /// Marks note `id` for sharing (a new id unless it has one) and returns it as the
    /// relay takes it.
    pub fn share_note(&self, id: i64) -> Result<SharedNote, StoreError> {
        let uid: Option<String> = self
            .conn
            .query_row("SELECT uid FROM notes WHERE id = ?1", params![id], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("no note #{id}")))?;
        let uid = uid.unwrap_or_else(new_uid);
        // An incident opened by hand has no key yet: it gets the one every console
        // derives an incident's from (environment, start, title).
        self.conn.execute(
            "UPDATE OR IGNORE incidents SET external = environment || ':' || started_at || ':' || title
             WHERE id = (SELECT incident_id FROM notes WHERE id = ?1) AND external IS NULL",
            params![id],
        )?;
        self.conn.execute(
            "UPDATE notes SET uid = ?2, shared = 'pending',
                incident_key = (SELECT external FROM incidents WHERE id = notes.incident_id)
             WHERE id = ?1",
            params![id, uid],
        )?;
        self.shared_note(&uid)?
            .ok_or_else(|| StoreError::NotFound(format!("no note #{id}")))
    }

    /// Records that `author` moved incident `incident` to `status` at `at` as a note of
    /// the incident (to share: [`Store::share_note`]); returns the note's id.
    pub fn status_note(
        &self,
        incident: i64,
        status: &str,
        author: &str,
        at: Timestamp,
    ) -> Result<i64, StoreError> {
        self.add_note(&super::NewNote {
            incident: Some(incident),
            author: author.to_owned(),
            body: format!("Status: {status}"),
            at,
            pinned_at: Some(at),
            entity: Some(format!("{STATUS_ENTITY}{status}")),
        })
    }

    /// Applies a received status note to its incident, unless the incident changed
    /// status since.
    fn apply_status(&self, n: &SharedNote) -> Result<(), StoreError> {
        let Some(status) = n
            .entity
            .as_deref()
            .and_then(|e| e.strip_prefix(STATUS_ENTITY))
            .filter(|s| matches!(*s, "triage" | "mitigated" | "resolved"))
        else {
            return Ok(());
        };
        let Some(key) = &n.incident_key else {
            return Ok(());
        };
        let found: Option<(i64, String, Option<i64>)> = self
            .conn
            .query_row(
                "SELECT id, status, (SELECT max(at) FROM status_changes WHERE incident_id = incidents.id)
                 FROM incidents WHERE external = ?1",
                params![key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        if let Some((id, now, last)) = found
            && now != status
            && last.is_none_or(|l| l < n.created_at.0)
        {
            self.set_status(id, status, n.created_at)?;
        }
        Ok(())
    }

    /// The notes the relay has not taken yet, oldest first.
    pub fn pending_notes(&self) -> Result<Vec<SharedNote>, StoreError> {
        self.shared_where("shared = 'pending' ORDER BY created_at, id", params![])
    }

    /// Shared notes edited at or after `since`, newest last (at most the newest 5000).
    pub fn shared_notes_since(&self, since: Timestamp) -> Result<Vec<SharedNote>, StoreError> {
        let mut notes = self.shared_where(
            "uid IS NOT NULL AND edited_at >= ?1 ORDER BY edited_at DESC, id DESC LIMIT ?2",
            params![since.0, NOTES_ON_CONNECT],
        )?;
        notes.reverse();
        Ok(notes)
    }

    /// Takes the relay's copy of a note (or, on the relay, a console's): added when new,
    /// its text replaced when the copy is a newer edit, marked shared either way.
    /// Returns the note as stored and whether anything changed.
    pub fn receive_note(&self, n: &SharedNote) -> Result<(SharedNote, bool), StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        if let Some((environment, started_at, title)) =
            n.incident_key.as_deref().and_then(parse_key)
        {
            // An incident this console has not recorded (one opened by hand on another):
            // recorded from its key, so the note joins it.
            tx.execute(
                "INSERT INTO incidents (title, severity, environment, origin, started_at, external)
                 SELECT ?1, 2, ?2, 'shared', ?3, ?4
                 WHERE NOT EXISTS (SELECT 1 FROM incidents WHERE external = ?4)",
                params![title, environment, started_at, n.incident_key],
            )?;
            if tx.changes() == 1 {
                tx.execute(
                    "INSERT INTO status_changes (incident_id, status, at) VALUES (?1, 'triage', ?2)",
                    params![tx.last_insert_rowid(), started_at],
                )?;
            }
        }
        let known: Option<(i64, String, i64, Option<String>, String)> = tx
            .query_row(
                "SELECT id, body, edited_at, shared, author FROM notes WHERE uid = ?1",
                params![n.uid],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let changed = match known {
            None => {
                tx.execute(
                    "INSERT INTO notes (incident_id, author, body, created_at, edited_at, pinned_at,
                                        entity, uid, incident_key, shared)
                     VALUES ((SELECT id FROM incidents WHERE external = ?7), ?1, ?2, ?3, ?4, ?5,
                             ?6, ?8, ?7, 'shared')",
                    params![
                        n.author,
                        n.body,
                        n.created_at.0,
                        n.edited_at.0,
                        n.pinned_at.0,
                        n.entity,
                        n.incident_key,
                        n.uid
                    ],
                )?;
                true
            }
            Some((id, body, edited_at, shared, author)) => {
                let newer = n.edited_at.0 > edited_at && n.body != body;
                if newer {
                    tx.execute(
                        "INSERT INTO note_history (note_id, body, replaced_at) VALUES (?1, ?2, ?3)",
                        params![id, body, n.edited_at.0],
                    )?;
                    tx.execute(
                        "UPDATE notes SET body = ?2, edited_at = ?3 WHERE id = ?1",
                        params![id, n.body, n.edited_at.0],
                    )?;
                }
                let restated = shared.as_deref() == Some("shared") && author == n.author;
                if !restated {
                    tx.execute(
                        "UPDATE notes SET shared = 'shared', author = ?2 WHERE id = ?1",
                        params![id, n.author],
                    )?;
                }
                newer || !restated
            }
        };
        tx.commit()?;
        if changed {
            self.apply_status(n)?;
        }
        let stored = self
            .shared_note(&n.uid)?
            .ok_or_else(|| StoreError::NotFound(format!("no note {}", n.uid)))?;
        Ok((stored, changed))
    }

    /// Links received notes to incidents recorded since (by the incident's key).
    pub(super) fn link_keyed_notes(&self) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE notes SET incident_id = (SELECT id FROM incidents WHERE external = notes.incident_key)
             WHERE incident_id IS NULL AND incident_key IS NOT NULL
               AND EXISTS (SELECT 1 FROM incidents WHERE external = notes.incident_key)",
            [],
        )?;
        Ok(())
    }

    fn shared_note(&self, uid: &str) -> Result<Option<SharedNote>, StoreError> {
        Ok(self
            .shared_where("uid = ?1", params![uid])?
            .into_iter()
            .next())
    }

    fn shared_where(
        &self,
        filter: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<SharedNote>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT uid, incident_key, author, body, created_at, edited_at, pinned_at, entity
             FROM notes WHERE {filter}"
        ))?;
        let rows = stmt.query_map(args, |r| {
            Ok(SharedNote {
                uid: r.get(0)?,
                incident_key: r.get(1)?,
                author: r.get(2)?,
                body: r.get(3)?,
                created_at: Timestamp(r.get(4)?),
                edited_at: Timestamp(r.get(5)?),
                pinned_at: Timestamp(r.get(6)?),
                entity: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// A new note id: 128 random bits, hex.
fn new_uid() -> String {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 16];
    // The system's generator fails only on a broken system; the time and process then
    // still make the id unique to this console.
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes[..16].copy_from_slice(&(t ^ u128::from(std::process::id())).to_le_bytes());
    }
    data_encoding::HEXLOWER.encode(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewNote;

    fn shared(uid: &str, body: &str, edited: i64, key: Option<&str>) -> SharedNote {
        SharedNote {
            uid: uid.into(),
            incident_key: key.map(Into::into),
            author: "alice".into(),
            body: body.into(),
            created_at: Timestamp(100),
            edited_at: Timestamp(edited),
            pinned_at: Timestamp(100),
            entity: None,
        }
    }

    #[test]
    fn a_note_is_taken_once_the_newest_edit_wins_and_it_finds_its_incident() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("n.sqlite"))
            .expect("open")
            .store;
        let key = "prod:100:db down";
        let (n, changed) = store
            .receive_note(&shared("u1", "first", 100, Some(key)))
            .expect("kept");
        assert!(changed);
        assert_eq!(n.incident_key.as_deref(), Some(key));
        let (_, again) = store
            .receive_note(&shared("u1", "first", 100, Some(key)))
            .expect("kept");
        assert!(!again, "the same note twice changes nothing");
        store
            .receive_note(&shared("u1", "older", 50, Some(key)))
            .expect("kept");
        store
            .receive_note(&shared("u1", "newer", 200, Some(key)))
            .expect("kept");
        let all = store.notes(None).expect("notes");
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].body, "newer");
        assert_eq!(store.history(all[0].id).expect("history")[0].0, "first");

        // This console had not recorded the incident: it is, from the key, and the note
        // is in it; the state's sync would find it by the same key.
        let incidents = store.incidents().expect("incidents");
        assert_eq!(incidents.len(), 1, "{incidents:?}");
        let inc = &incidents[0];
        assert_eq!(
            (inc.title.as_str(), inc.environment.as_str(), inc.started_at),
            ("db down", "prod", Timestamp(100))
        );
        assert_eq!(all[0].incident, Some(inc.id));
        // A note of a key that is not one stays outside any incident.
        let (odd, _) = store
            .receive_note(&shared("u2", "odd", 100, Some("no key here")))
            .expect("kept");
        assert_eq!(odd.incident_key.as_deref(), Some("no key here"));
        assert_eq!(store.incidents().expect("incidents").len(), 1);
    }

    #[test]
    fn a_status_change_travels_as_a_note_and_a_later_one_is_not_undone() {
        let dir = tempfile::tempdir().expect("dir");
        let open = |name: &str| Store::open(&dir.path().join(name)).expect("open").store;
        let (alice, bob) = (open("alice.sqlite"), open("bob.sqlite"));
        let id = alice
            .open_incident(
                "orders db failover",
                1,
                "prod",
                "manual",
                Timestamp(10),
                None,
            )
            .expect("incident");
        alice
            .set_status(id, "mitigated", Timestamp(50))
            .expect("status");
        let note = alice
            .status_note(id, "mitigated", "alice", Timestamp(50))
            .expect("note");
        let shared = alice.share_note(note).expect("shared");
        assert_eq!(shared.body, "Status: mitigated");
        bob.receive_note(&shared).expect("kept");
        let inc = &bob.incidents().expect("incidents")[0];
        assert_eq!(inc.status, "mitigated", "bob's copy moved");
        // bob resolves later; alice's older change arriving again does not undo it.
        bob.set_status(inc.id, "resolved", Timestamp(90))
            .expect("status");
        let mut again = shared.clone();
        again.uid = "another-id".into();
        bob.receive_note(&again).expect("kept");
        assert_eq!(bob.incident(inc.id).expect("incident").status, "resolved");
    }

    #[test]
    fn an_incident_opened_by_hand_gets_its_key_when_a_note_of_it_is_shared() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("n.sqlite"))
            .expect("open")
            .store;
        let id = store
            .open_incident(
                "orders db failover",
                1,
                "prod",
                "manual",
                Timestamp(77),
                None,
            )
            .expect("incident");
        let note = store
            .add_note(&NewNote {
                incident: Some(id),
                author: "alice".into(),
                body: "promoting db2".into(),
                at: Timestamp(80),
                ..NewNote::default()
            })
            .expect("note");
        let shared = store.share_note(note).expect("shared");
        assert_eq!(
            shared.incident_key.as_deref(),
            Some("prod:77:orders db failover")
        );
        // bob's console records the incident from the note.
        let bob = Store::open(&dir.path().join("bob.sqlite"))
            .expect("open")
            .store;
        bob.receive_note(&shared).expect("kept");
        let incidents = bob.incidents().expect("incidents");
        assert_eq!(incidents.len(), 1);
        assert_eq!(incidents[0].title, "orders db failover");
        assert_eq!(bob.notes(Some(incidents[0].id)).expect("notes").len(), 1);
    }

    #[test]
    fn a_shared_note_is_pending_until_the_relays_copy_comes_back() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("n.sqlite"))
            .expect("open")
            .store;
        let id = store
            .add_note(&NewNote {
                author: "laptop-user".into(),
                body: "on the train".into(),
                at: Timestamp(10),
                ..NewNote::default()
            })
            .expect("add");
        let n = store.share_note(id).expect("shared");
        assert_eq!(n.uid.len(), 32, "128 bits, hex");
        assert_eq!(store.share_note(id).expect("again").uid, n.uid, "one id");
        assert!(store.note(id).expect("n").expect("one").pending);
        assert_eq!(store.pending_notes().expect("pending").len(), 1);
        let mut back = n.clone();
        back.author = "bob".into();
        store.receive_note(&back).expect("kept");
        let mine = store.note(id).expect("n").expect("one");
        assert!(!mine.pending);
        assert_eq!(mine.author, "bob");
        assert!(store.pending_notes().expect("pending").is_empty());
    }
}
