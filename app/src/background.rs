//! The window's one job queue: work the window must not wait for (saving a layout or
//! the theme, listing layouts, a file dialog, saving a session, writing a PNG) runs on
//! a named thread whose answer, a plain value, goes into one bounded channel. The
//! frame drains that channel for a few milliseconds at most and applies each answer;
//! an answer landing asks for a repaint. If a thread cannot start, or the work panics,
//! that is an answer too, so the window never waits for ever.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How many answers may wait in the queue; a worker with one more waits (never the
/// window) until the frame has taken some.
const CAPACITY: usize = 64;

/// How long a frame spends applying answers before it leaves the rest to the next one.
pub const DRAIN_BUDGET: Duration = Duration::from_millis(10);

/// The job queue: spawn work, take its answers.
pub struct Jobs<T> {
    tx: SyncSender<T>,
    rx: Receiver<T>,
    /// Jobs started whose answer has not been taken yet.
    pending: Arc<AtomicUsize>,
    /// Woken when an answer lands (set at the first frame: a console is built before
    /// its window exists).
    repaint: Arc<OnceLock<egui::Context>>,
}

impl<T: Send + 'static> Default for Jobs<T> {
    fn default() -> Self {
        let (tx, rx) = sync_channel(CAPACITY);
        Self {
            tx,
            rx,
            pending: Arc::new(AtomicUsize::new(0)),
            repaint: Arc::new(OnceLock::new()),
        }
    }
}

impl<T: Send + 'static> Jobs<T> {
    /// Wakes `ctx` when an answer lands (the first context given is kept).
    pub fn set_repaint(&self, ctx: &egui::Context) {
        if self.repaint.get().is_none() {
            self.repaint.set(ctx.clone()).ok();
        }
    }

    /// Asks the window for a repaint (once it is known): a waker for work that lands
    /// outside this queue, such as the workflow desk's.
    pub fn repainter(&self) -> impl Fn() + Send + Sync + 'static {
        let repaint = Arc::clone(&self.repaint);
        move || {
            if let Some(ctx) = repaint.get() {
                ctx.request_repaint();
            }
        }
    }

    /// A handle that starts jobs answering into this queue, for code that runs later
    /// (a screenshot callback).
    pub fn spawner(&self) -> Spawner<T> {
        Spawner {
            tx: self.tx.clone(),
            pending: Arc::clone(&self.pending),
            repaint: Arc::clone(&self.repaint),
        }
    }

    /// Runs `work` on a thread called `name`; its answer goes into the queue. When no
    /// thread can be started, or `work` panics, the answer is `failed(why)`.
    pub fn spawn(
        &self,
        name: &str,
        work: impl FnOnce() -> T + Send + 'static,
        failed: impl Fn(String) -> T + Send + Sync + 'static,
    ) {
        self.spawner().spawn(name, work, failed);
    }

    /// The next answer, unless none has landed or `deadline` has passed (then a
    /// repaint is asked for, so the rest is applied at the next frame).
    pub fn next_before(&mut self, deadline: Instant) -> Option<T> {
        if Instant::now() >= deadline {
            if self.pending() > 0
                && let Some(ctx) = self.repaint.get()
            {
                ctx.request_repaint();
            }
            return None;
        }
        let answer = match self.rx.try_recv() {
            Ok(a) => a,
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => return None,
        };
        self.pending.fetch_sub(1, Ordering::AcqRel);
        Some(answer)
    }

    /// How many jobs have not had their answer taken yet.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }
}

/// Starts jobs answering into one [`Jobs`] queue.
pub struct Spawner<T> {
    tx: SyncSender<T>,
    pending: Arc<AtomicUsize>,
    repaint: Arc<OnceLock<egui::Context>>,
}

impl<T: Send + 'static> Spawner<T> {
    /// Runs `work` on a thread called `name`; its answer goes into the queue. When no
    /// thread can be started, or `work` panics, the answer is `failed(why)`.
    pub fn spawn(
        &self,
        name: &str,
        work: impl FnOnce() -> T + Send + 'static,
        failed: impl Fn(String) -> T + Send + Sync + 'static,
    ) {
        self.pending.fetch_add(1, Ordering::AcqRel);
        let tx = self.tx.clone();
        let repaint = Arc::clone(&self.repaint);
        let failed = Arc::new(failed);
        let failed_there = Arc::clone(&failed);
        let spawned = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
                    .unwrap_or_else(|panic| {
                        let why = panic
                            .downcast_ref::<&str>()
                            .map(|s| (*s).to_owned())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "it failed".to_owned());
                        failed_there(why)
                    });
                // The window is gone when nobody receives: the answer has no reader.
                if tx.send(answer).is_ok()
                    && let Some(ctx) = repaint.get()
                {
                    ctx.request_repaint();
                }
            });
        if let Err(e) = spawned {
            // Never waits: a full queue loses this answer, and says so.
            if self.tx.try_send(failed(e.to_string())).is_err() {
                self.pending.fetch_sub(1, Ordering::AcqRel);
                tracing::warn!("the job queue is full; the answer of {name} is lost");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The next answer, once it lands (10 s at most).
    fn wait<T: Send + 'static>(jobs: &mut Jobs<T>) -> T {
        let start = Instant::now();
        loop {
            if let Some(a) = jobs.next_before(Instant::now() + DRAIN_BUDGET) {
                return a;
            }
            assert!(start.elapsed().as_secs() < 10, "no answer");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn the_answer_lands_in_the_queue() {
        let mut jobs = Jobs::default();
        jobs.set_repaint(&egui::Context::default());
        jobs.spawn("test-background", || 42, |_| 0);
        assert_eq!(jobs.pending(), 1);
        let answer = wait(&mut jobs);
        assert_eq!(answer, 42);
        assert_eq!(jobs.pending(), 0, "taken once");
        assert_eq!(jobs.next_before(Instant::now() + DRAIN_BUDGET), None);
    }

    #[test]
    fn a_panic_in_the_work_is_an_answer_too() {
        let mut jobs = Jobs::default();
        jobs.spawn(
            "test-background-panic",
            || -> Result<u32, String> { panic!("the disk is gone") },
            Err,
        );
        let answer = wait(&mut jobs);
        assert_eq!(answer, Err("the disk is gone".to_owned()));
    }

    #[test]
    fn a_spent_budget_leaves_answers_for_the_next_frame() {
        let mut jobs = Jobs::default();
        jobs.spawn("test-background-late", || 1, |_| 0);
        // Time for the answer to land.
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(jobs.next_before(Instant::now()), None, "no time left");
        assert_eq!(wait(&mut jobs), 1, "taken at the next frame");
    }
}
