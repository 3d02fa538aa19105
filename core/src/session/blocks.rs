//! Blocks of recorded events (format 3): the recorder gathers events into a block and
//! writes it as one row, the events as JSON lines compressed together with zstd.
//!
//! One JSON line per event keeps what format 2 had per row: the event as serde writes
//! it, so a kind this build does not know still reads as JSON (kept raw), and `--export`
//! shows it as recorded. Compressing a block at once, rather than each event, lets
//! zstd find what a second of events repeats (field names, sources, instances), which
//! is most of it. The block's row keeps its sequence range and time range, so a
//! seek decodes one block, never the file.
//!
//! Every read is bounded: the compressed value by the reader's row limit, the decoded
//! block by the size its frame declares, which must be present and at most
//! [`MAX_BLOCK_BYTES`]; the decoder's window by [`WINDOW_LOG_MAX`].

use std::io::Read as _;

use crate::event::Event;
use crate::time::Timestamp;

/// A block is written once it holds this many events...
pub const BLOCK_EVENTS: usize = 4096;
/// ...or this many bytes of JSON, or once its first event is a second old (the
/// recorder's flush), whichever comes first.
pub const BLOCK_BYTES: usize = 1 << 20;
/// The most a block may decode to. A writer's blocks stay near [`BLOCK_BYTES`]; one
/// event alone may be larger (a source's answer is bounded at 32 MB), so the bound is
/// the reader's row limit, as format 2 had per event.
pub const MAX_BLOCK_BYTES: u64 = 64 << 20;
/// The largest window the decoder accepts (8 MB): our frames never need more, and a
/// hostile frame cannot make the decoder reserve its default 128 MB.
pub const WINDOW_LOG_MAX: u32 = 23;
/// zstd's level: 3 (its default) gets most of the ratio at a small share of a core.
const LEVEL: i32 = 3;

/// Events gathered for the next block.
#[derive(Debug, Default)]
pub struct Pending {
    /// Sequence number of its first event.
    pub first_seq: i64,
    /// Events in it.
    pub count: usize,
    /// Its earliest and latest event time.
    pub min_at: i64,
    /// See `min_at`.
    pub max_at: i64,
    /// The events' JSON, one line each.
    pub lines: Vec<u8>,
    /// When its first event arrived (the recorder's wall clock, not event time).
    pub since: Option<std::time::Instant>,
}

impl Pending {
    /// Adds `ev` as event `seq`.
    pub fn push(&mut self, seq: i64, ev: &Event) -> Result<(), serde_json::Error> {
        let line = serde_json::to_vec(ev)?;
        self.push_line(seq, ev.at, &line);
        Ok(())
    }

    /// Adds an event's JSON `line` (of time `at`) as event `seq`.
    pub fn push_line(&mut self, seq: i64, at: Timestamp, line: &[u8]) {
        if self.count == 0 {
            self.first_seq = seq;
            self.min_at = at.0;
            self.max_at = at.0;
            self.since = Some(std::time::Instant::now());
        }
        self.lines.extend_from_slice(line);
        self.lines.push(b'\n');
        self.count += 1;
        self.min_at = self.min_at.min(at.0);
        self.max_at = self.max_at.max(at.0);
    }

    /// Whether it should be written now.
    pub fn full(&self) -> bool {
        self.count >= BLOCK_EVENTS || self.lines.len() >= BLOCK_BYTES
    }

    /// The last event's sequence number.
    pub fn last_seq(&self) -> i64 {
        self.first_seq + i64::try_from(self.count).unwrap_or(i64::MAX) - 1
    }

    /// Takes the block out, leaving this empty.
    #[must_use]
    pub fn take(&mut self) -> Self {
        std::mem::take(self)
    }
}

/// Compresses a block's lines.
pub fn compress(lines: &[u8]) -> std::io::Result<Vec<u8>> {
    // The bulk API writes the content size in the frame header, which the reader
    // requires before it allocates.
    zstd::bulk::compress(lines, LEVEL)
}

/// Decodes a block, within the bounds above; the error says what is wrong in words.
pub fn decompress(blob: &[u8]) -> Result<Vec<u8>, String> {
    let declared = match zstd::zstd_safe::get_frame_content_size(blob) {
        Ok(Some(n)) => n,
        Ok(None) => return Err("a block without its size".to_owned()),
        Err(_) => return Err("not a compressed block".to_owned()),
    };
    if declared > MAX_BLOCK_BYTES {
        return Err(format!(
            "a block of {} MB, more than a session block may hold ({} MB)",
            declared >> 20,
            MAX_BLOCK_BYTES >> 20
        ));
    }
    let mut decoder = zstd::stream::read::Decoder::with_buffer(blob)
        .map_err(|e| format!("not a compressed block: {e}"))?;
    decoder
        .window_log_max(WINDOW_LOG_MAX)
        .map_err(|e| format!("not a compressed block: {e}"))?;
    // Read no further than declared: the buffer grows with what truly comes out,
    // so a frame that lies about its size costs no more than it holds.
    let mut out = Vec::new();
    decoder
        .single_frame()
        .take(declared + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("the block does not decode: {e}"))?;
    if out.len() as u64 != declared {
        return Err(format!(
            "the block holds {} bytes, its header says {declared}",
            out.len()
        ));
    }
    Ok(out)
}

/// The lines of a decoded block (each an event's JSON).
pub fn lines(block: &[u8]) -> impl Iterator<Item = &[u8]> {
    block
        .strip_suffix(b"\n")
        .unwrap_or(block)
        .split(|b| *b == b'\n')
        .filter(move |_| !block.is_empty())
}

/// An event's time, read from its JSON line without reading the rest.
pub fn line_at(line: &[u8]) -> Option<Timestamp> {
    #[derive(serde::Deserialize)]
    struct At {
        at: i64,
    }
    serde_json::from_slice::<At>(line)
        .ok()
        .map(|a| Timestamp(a.at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_round_trips_and_its_lines_split() {
        let events = crate::sources::drill::simulate(2, 60, 5);
        let mut p = Pending::default();
        for (i, e) in events.iter().enumerate() {
            p.push(i64::try_from(i).expect("fits") + 10, e)
                .expect("push");
        }
        assert_eq!(p.first_seq, 10);
        assert_eq!(p.last_seq(), 10 + events.len() as i64 - 1);
        let blob = compress(&p.lines).expect("compress");
        assert!(
            blob.len() * 5 < p.lines.len(),
            "{} of {}",
            blob.len(),
            p.lines.len()
        );
        let back = decompress(&blob).expect("decompress");
        assert_eq!(back, p.lines);
        let read: Vec<Event> = lines(&back)
            .map(|l| serde_json::from_slice(l).expect("event"))
            .collect();
        assert_eq!(read, events);
        assert_eq!(
            line_at(lines(&back).next().expect("one")),
            Some(events[0].at)
        );
        assert_eq!(lines(b"").count(), 0);
    }

    #[test]
    fn damaged_and_oversized_blocks_are_refused_in_words() {
        assert!(decompress(b"not zstd at all").is_err());
        let blob = compress(b"{\"at\":1}\n").expect("compress");
        let cut = decompress(&blob[..blob.len() - 2]).expect_err("cut");
        assert!(cut.contains("block"), "{cut}");
        // A frame declaring more than a block may hold is refused before decoding.
        let big = vec![b'x'; (MAX_BLOCK_BYTES + 1) as usize];
        let blob = compress(&big).expect("compress");
        let err = decompress(&blob).expect_err("too big");
        assert!(err.contains("more than a session block may hold"), "{err}");
    }
}
