//! Integrity findings: members that answer but hold different data (etcd members whose
//! key-value hashes differ at one revision), data pages that fail their checksum, a
//! replica that stopped replaying WAL while it still says it streams. Each is a check
//! on one subject, holding or not, said in words.

use serde::{Deserialize, Serialize};

/// What one integrity check found about one subject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrityFinding {
    /// The check (`pg checksums`, `pg replay`, `etcd hashkv`).
    pub check: String,
    /// What it is about (`orders-db/node2`, `control-plane`).
    pub subject: String,
    /// The check holds.
    pub ok: bool,
    /// What was seen, in words.
    pub detail: String,
}

impl IntegrityFinding {
    /// The key the state keeps it under: one finding per check and subject.
    pub fn key(&self) -> String {
        format!("{}: {}", self.check, self.subject)
    }
}
