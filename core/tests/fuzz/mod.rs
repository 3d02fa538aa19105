//! The fuzzing engine shared by the parser targets: a seeded mutator over recorded
//! samples (byte flips, truncation, splicing, huge numbers, deep nesting, dictionary
//! tokens) plus inputs generated from scratch, a per-thread allocation meter that
//! bounds what one input may allocate, and a driver that runs a target for a number of
//! inputs or seconds and fails with the input that broke it.
//!
//! Stable Rust has no coverage-guided engine without a nightly toolchain, so this is a
//! property-based harness: every input must leave the parser returning (no panic),
//! within the allocation cap, with an error in words when it refuses.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use switchboard_core::SplitMix64;

pub mod databases;
pub mod dns_server;
pub mod session_file;

/// The largest input a target is given, in bytes: large enough for every recorded
/// sample, small enough that a bound on allocation per input means something.
pub const INPUT_CAP_BYTES: usize = 96 * 1024;

/// The longest refusal an operator should have to read, in characters: a hostile
/// answer must not be repeated into the window whole.
pub const ERROR_CAP_CHARS: usize = 1024;

/// Counts the bytes live and the peak on the allocating thread, so parallel tests do
/// not see each other's allocations.
pub struct Meter;

thread_local! {
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
    static PEAK_BYTES: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    // `try_with`: a thread being torn down still allocates; it just goes uncounted.
    LIVE_BYTES
        .try_with(|live| {
            let now = live.get() + delta;
            live.set(now);
            PEAK_BYTES
                .try_with(|peak| {
                    if now > peak.get() {
                        peak.set(now);
                    }
                })
                .ok();
        })
        .ok();
}

fn signed(n: usize) -> isize {
    isize::try_from(n).unwrap_or(isize::MAX)
}

// The workspace denies unsafe code; a global allocator cannot be written without it.
// Every call forwards to `System` unchanged; only the counters are added.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Meter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track(signed(layout.size()));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-signed(layout.size()));
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        track(signed(layout.size()));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        track(signed(new_size) - signed(layout.size()));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` and returns its result with the most bytes it held at once beyond what was
/// live before.
pub fn metered<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE_BYTES.with(Cell::get);
    PEAK_BYTES.with(|p| p.set(base));
    let out = f();
    let peak = PEAK_BYTES.with(Cell::get);
    (out, usize::try_from(peak - base).unwrap_or(0))
}

/// What a target said about one input.
pub enum Verdict {
    /// Parsed (possibly to nothing).
    Accepted,
    /// Refused, with the operator's words.
    Refused(String),
}

/// A parser under test: its name, seed directories under `core/tests/fixtures`, seeds
/// made in code, tokens worth splicing in, and the function that feeds it one input.
pub struct Target {
    pub name: &'static str,
    pub fixtures: &'static [&'static str],
    pub extra_seeds: fn() -> Vec<Vec<u8>>,
    pub tokens: &'static [&'static str],
    pub run: fn(&[u8]) -> Verdict,
}

/// What a run measured, printed for `tests/fuzz.sh` to collect.
pub struct Figures {
    pub inputs: u64,
    pub refused: u64,
    pub elapsed: Duration,
    pub peak_alloc_bytes: usize,
    pub longest_error_chars: usize,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn fixture_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The seeds of `t`: its recorded samples (and those under `SWITCHBOARD_FUZZ_SEEDS`, the
/// shared fixture tree, when set), plus its hand-written ones.
fn seeds(t: &Target) -> Vec<Vec<u8>> {
    let mut roots = vec![fixture_root()];
    if let Ok(extra) = std::env::var("SWITCHBOARD_FUZZ_SEEDS") {
        roots.push(PathBuf::from(extra));
    }
    let mut out = (t.extra_seeds)();
    for root in &roots {
        for dir in t.fixtures {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
                continue;
            };
            let mut files: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            files.sort();
            for f in files {
                if let Ok(mut b) = std::fs::read(&f) {
                    b.truncate(INPUT_CAP_BYTES);
                    out.push(b);
                }
            }
        }
    }
    out
}

/// Numbers that overflow every integer and float type a parser might use.
const HUGE: [&str; 9] = [
    "18446744073709551616",
    "-9223372036854775809",
    "1e999999",
    "-1e-999999",
    "99999999999999999999999999999999999999",
    "NaN",
    "+Inf",
    "4294967296",
    "0.0000000000000000000000000000000000001",
];

const PUNCT: &[u8] = b"{}[]\":,\n\r\t =#\\/0-.eE\0\xff";

fn pick<'a, T>(rng: &mut SplitMix64, xs: &'a [T]) -> &'a T {
    let i = usize::try_from(rng.below(xs.len() as u64)).unwrap_or(0);
    &xs[i]
}

fn index(rng: &mut SplitMix64, len: usize) -> usize {
    usize::try_from(rng.below(len as u64 + 1)).unwrap_or(0)
}

/// One mutation of `input`, drawing on `seeds` for splicing and `tokens` for words.
fn mutate(rng: &mut SplitMix64, input: &mut Vec<u8>, seeds: &[Vec<u8>], tokens: &[&str]) {
    let len = input.len();
    match rng.below(11) {
        0 if len > 0 => {
            let i = index(rng, len - 1);
            input[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = index(rng, len - 1);
            input[i] = *pick(rng, PUNCT);
        }
        2 => input.truncate(index(rng, len)),
        3 if len > 0 => {
            let a = index(rng, len);
            let b = (a + index(rng, 64)).min(len);
            input.drain(a..b);
        }
        4 if len > 0 => {
            // Duplicates a stretch in place: repeated keys, rows and brackets.
            let a = index(rng, len);
            let b = (a + index(rng, 256)).min(len);
            let chunk = input[a..b].to_vec();
            let at = index(rng, input.len());
            input.splice(at..at, chunk);
        }
        5 if !seeds.is_empty() => {
            // Splices the tail of another sample onto a head of this one.
            let other = pick(rng, seeds);
            let at = index(rng, len);
            let from = index(rng, other.len());
            input.truncate(at);
            input.extend_from_slice(&other[from..]);
        }
        6 => {
            // Replaces a run of digits (or inserts) with a number out of every range.
            let huge = pick(rng, &HUGE).as_bytes();
            let at = index(rng, len);
            let end = input[at..]
                .iter()
                .position(|c| !c.is_ascii_digit())
                .map_or(len, |p| at + p);
            input.splice(at..end, huge.iter().copied());
        }
        7 => {
            // Deep nesting: far past serde_json's and toml's recursion limits.
            let depth = 1 + index(rng, 20_000);
            let (open, close) = *pick(
                rng,
                &[("[", "]"), ("{\"a\":", "}"), ("a={", "}"), ("[[", "]]")],
            );
            let at = index(rng, len);
            let mut nest = open.repeat(depth).into_bytes();
            if rng.chance(0.5) {
                nest.extend_from_slice(close.repeat(depth).as_bytes());
            }
            input.splice(at..at, nest);
        }
        8 if !tokens.is_empty() => {
            let word = pick(rng, tokens).as_bytes();
            let at = index(rng, len);
            input.splice(at..at, word.iter().copied());
        }
        9 => {
            // A long line: line-protocol parsers must not choke on it.
            let at = index(rng, len);
            let n = index(rng, 40_000);
            input.splice(at..at, std::iter::repeat_n(b'x', n));
        }
        _ => {
            let at = index(rng, len);
            let n = index(rng, 8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64().to_le_bytes()[0]).collect();
            input.splice(at..at, bytes);
        }
    }
}

/// An input made from nothing: random bytes, or random tokens and punctuation.
fn generate(rng: &mut SplitMix64, tokens: &[&str]) -> Vec<u8> {
    let n = index(rng, 512);
    if tokens.is_empty() || rng.chance(0.3) {
        return (0..n).map(|_| rng.next_u64().to_le_bytes()[0]).collect();
    }
    let mut out = Vec::new();
    for _ in 0..n / 4 {
        if rng.chance(0.6) {
            out.extend_from_slice(pick(rng, tokens).as_bytes());
        } else {
            out.push(*pick(rng, PUNCT));
        }
    }
    out
}

/// The most a target may allocate at once for an input of `len` bytes: a constant
/// (runtime, parser tables) plus a small multiple of the input.
fn alloc_cap_bytes(len: usize) -> usize {
    16 * 1024 * 1024 + 64 * len
}

fn shown(input: &[u8]) -> String {
    let s = String::from_utf8_lossy(&input[..input.len().min(600)]);
    format!("{s:?} ({} bytes)", input.len())
}

/// Runs `t` for `SWITCHBOARD_FUZZ_CASES` inputs or `SWITCHBOARD_FUZZ_SECS` seconds,
/// whichever ends first (defaults: 1,000,000 inputs, 10 s: CI's short pass), from
/// `SWITCHBOARD_FUZZ_SEED`. Panics, naming the input, on a crash, an allocation over
/// the cap or a refusal without words.
pub fn fuzz(t: &Target) -> Figures {
    let cases = env_u64("SWITCHBOARD_FUZZ_CASES", 1_000_000);
    let secs = env_u64("SWITCHBOARD_FUZZ_SECS", 10);
    let seed = env_u64("SWITCHBOARD_FUZZ_SEED", 17);
    let seeds = seeds(t);
    assert!(!seeds.is_empty(), "{}: no seeds", t.name);
    let mut rng = SplitMix64::new(seed ^ t.name.len() as u64 ^ 0x5eed);
    let started = Instant::now();
    let deadline = (secs > 0).then(|| started + Duration::from_secs(secs));
    let mut figures = Figures {
        inputs: 0,
        refused: 0,
        elapsed: Duration::ZERO,
        peak_alloc_bytes: 0,
        longest_error_chars: 0,
    };
    let mut current = seeds[0].clone();
    while figures.inputs < cases {
        if figures.inputs.is_multiple_of(256) && deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        // Seeds as they are first, then chains of mutations restarted now and then,
        // with an input from scratch one time in eight.
        let input =
            if let Some(s) = seeds.get(usize::try_from(figures.inputs).unwrap_or(usize::MAX)) {
                s.clone()
            } else if rng.chance(0.125) {
                generate(&mut rng, t.tokens)
            } else {
                if rng.chance(0.1) || current.len() >= INPUT_CAP_BYTES {
                    current = pick(&mut rng, &seeds).clone();
                }
                for _ in 0..=rng.below(4) {
                    mutate(&mut rng, &mut current, &seeds, t.tokens);
                }
                current.truncate(INPUT_CAP_BYTES);
                current.clone()
            };
        let (verdict, peak) = metered(|| std::panic::catch_unwind(|| (t.run)(&input)));
        let verdict = verdict.unwrap_or_else(|_| {
            let saved = std::env::temp_dir().join(format!("switchboard-fuzz-{}.bin", t.name));
            std::fs::write(&saved, &input).ok();
            panic!(
                "{}: the parser panicked on input {} (seed {seed}, saved to {})",
                t.name,
                shown(&input),
                saved.display()
            )
        });
        assert!(
            peak <= alloc_cap_bytes(input.len()),
            "{}: {peak} bytes allocated for input {}",
            t.name,
            shown(&input)
        );
        figures.peak_alloc_bytes = figures.peak_alloc_bytes.max(peak);
        if let Verdict::Refused(words) = verdict {
            assert!(
                words.trim().len() >= 8,
                "{}: a refusal without words ({words:?}) for input {}",
                t.name,
                shown(&input)
            );
            assert!(
                words.chars().count() <= ERROR_CAP_CHARS,
                "{}: a refusal of {} chars (an operator reads it in a status line): {:.300}",
                t.name,
                words.chars().count(),
                words
            );
            figures.refused += 1;
            if std::env::var_os("SWITCHBOARD_FUZZ_SHOW").is_some()
                && words.chars().count() > figures.longest_error_chars
            {
                println!("{}: {:.300}", t.name, words);
            }
            figures.longest_error_chars = figures.longest_error_chars.max(words.chars().count());
        }
        figures.inputs += 1;
    }
    figures.elapsed = started.elapsed();
    let rate = figures.inputs as f64 / figures.elapsed.as_secs_f64().max(1e-9);
    println!(
        "fuzz {}: {} inputs in {:.1} s ({rate:.0}/s), {} refused, peak {} KiB allocated, longest error {} chars",
        t.name,
        figures.inputs,
        figures.elapsed.as_secs_f64(),
        figures.refused,
        figures.peak_alloc_bytes / 1024,
        figures.longest_error_chars
    );
    figures
}

/// Text from bytes as a network read gives it to a parser (lossy UTF-8).
pub fn text(input: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(input)
}

/// A `Result` as a verdict, its error shown as the console shows it (`{:#}`).
pub fn verdict<T, E: std::fmt::Display>(r: Result<T, E>) -> Verdict {
    match r {
        Ok(_) => Verdict::Accepted,
        Err(e) => Verdict::Refused(format!("{e:#}")),
    }
}
