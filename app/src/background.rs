//! Work the window must not wait for (a file dialog, saving a session): a named thread
//! whose answer lands in a [`Slot`] the window looks at each frame, with a repaint
//! when it does. If the thread cannot start, or the work panics, the slot holds the
//! answer for that, so the window never waits for ever.

use std::sync::{Arc, Mutex};

/// Where a background answer lands: `None` until it does.
pub type Slot<T> = Arc<Mutex<Option<T>>>;

/// Runs `work` on a thread called `name`; its answer goes into the returned slot and
/// wakes `repaint`. When no thread can be started, or `work` panics, the slot holds
/// `failed(why)`.
pub fn spawn<T: Send + 'static>(
    name: &str,
    repaint: egui::Context,
    work: impl FnOnce() -> T + Send + 'static,
    failed: fn(String) -> T,
) -> Slot<T> {
    let slot: Slot<T> = Arc::new(Mutex::new(None));
    let out = Arc::clone(&slot);
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
                    failed(why)
                });
            if let Ok(mut o) = out.lock() {
                *o = Some(answer);
            }
            repaint.request_repaint();
        });
    if let Err(e) = spawned
        && let Ok(mut o) = slot.lock()
    {
        *o = Some(failed(e.to_string()));
    }
    slot
}

/// Takes the answer out of `slot`, if it has landed.
pub fn take<T>(slot: &Slot<T>) -> Option<T> {
    slot.lock().ok()?.take()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answer, once it lands (10 s at most).
    fn wait<T>(slot: &Slot<T>) -> T {
        let start = std::time::Instant::now();
        loop {
            if let Some(a) = take(slot) {
                return a;
            }
            assert!(start.elapsed().as_secs() < 10, "no answer");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn the_answer_lands_in_the_slot() {
        let slot = spawn("test-background", egui::Context::default(), || 42, |_| 0);
        let answer = wait(&slot);
        assert_eq!(answer, 42);
        assert_eq!(take(&slot), None, "taken once");
    }

    #[test]
    fn a_panic_in_the_work_is_an_answer_too() {
        let slot = spawn(
            "test-background-panic",
            egui::Context::default(),
            || -> Result<u32, String> { panic!("the disk is gone") },
            Err,
        );
        let answer = wait(&slot);
        assert_eq!(answer, Err("the disk is gone".to_owned()));
    }
}
