//! Wall rotation: a status board cycles through pages, each an environment shown in a
//! layout, every N seconds. Every environment keeps its own engine running all the
//! time, so a page is current the moment it shows, and the banners of every
//! environment stay on screen whichever page is shown (a quorum lost in production is
//! not hidden because the staging page is up).
//!
//! The console shows one engine; the others wait here, in the order they come next.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use switchboard_core::{EngineHandle, Look};

/// The pages a wall cycles through, and when it moves on.
pub struct Rotation {
    /// The environments not on screen, next first, with their look.
    pub(crate) others: VecDeque<(EngineHandle, Look)>,
    /// Layouts (presets or the operator's) shown for each environment, in order.
    pub(crate) layouts: Vec<String>,
    /// Their trees, read once when the console takes the rotation (a page turn reads
    /// no file).
    pub(crate) trees: Vec<Option<egui_tiles::Tree<crate::layout::Pane>>>,
    /// How long a page stays.
    pub(crate) every: Duration,
    /// The layout shown now (index into `layouts`).
    pub(crate) layout: usize,
    /// The environment shown now (0: the first one given).
    pub(crate) environment: usize,
    /// When the next page comes (none: paused).
    pub(crate) next_at: Option<Instant>,
}

/// What the console must do to show the next page.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Turn {
    /// Swap to the next environment's engine.
    pub environment: bool,
    /// The layout to show (index into `layouts`).
    pub layout: usize,
}

impl Rotation {
    /// Cycles `layouts` (presets or the operator's; at least one) of the console's
    /// environment and then of each of `others`, a page every `every`.
    pub fn new(others: Vec<(EngineHandle, Look)>, layouts: Vec<String>, every: Duration) -> Self {
        let layouts = if layouts.is_empty() {
            vec!["wall".to_owned()]
        } else {
            layouts
        };
        Self {
            others: others.into(),
            layouts,
            trees: Vec::new(),
            every: every.max(Duration::from_secs(2)),
            layout: 0,
            environment: 0,
            next_at: Some(Instant::now() + every.max(Duration::from_secs(2))),
        }
    }

    /// Reads the layouts' trees (presets, or the operator's in `dir`) once, so a page
    /// turn reads no file; the first that cannot be read is the error.
    pub fn resolve(&mut self, dir: Option<&std::path::Path>) -> Result<(), String> {
        self.trees = self
            .layouts
            .iter()
            .map(|name| crate::layout::resolve(name, dir).map(Some))
            .collect::<Result<_, _>>()?;
        Ok(())
    }

    /// Whether the layouts' trees are read.
    pub fn resolved(&self) -> bool {
        self.trees.len() == self.layouts.len()
    }

    /// The first layout shown.
    pub fn first_layout(&self) -> &str {
        &self.layouts[0]
    }

    /// The engines of the environments not on screen (to wake the window).
    pub fn engines(&self) -> impl Iterator<Item = &EngineHandle> {
        self.others.iter().map(|(e, _)| e)
    }

    /// Pages in the cycle.
    pub fn pages(&self) -> usize {
        self.layouts.len() * (self.others.len() + 1)
    }

    /// The page on screen, from 1.
    pub fn page(&self) -> usize {
        self.environment * self.layouts.len() + self.layout + 1
    }

    /// The page after this one: its layout, and whether the environment changes.
    pub(crate) fn advance(&mut self) -> Turn {
        self.layout = (self.layout + 1) % self.layouts.len();
        let environment = self.layout == 0 && !self.others.is_empty();
        if environment {
            self.environment = (self.environment + 1) % (self.others.len() + 1);
        }
        if self.next_at.is_some() {
            self.next_at = Some(Instant::now() + self.every);
        }
        Turn {
            environment,
            layout: self.layout,
        }
    }

    /// Whether the page is due.
    pub(crate) fn due(&self, now: Instant) -> bool {
        self.next_at.is_some_and(|t| now >= t)
    }

    /// Stops or restarts the clock.
    pub(crate) fn toggle_pause(&mut self) {
        self.next_at = match self.next_at {
            Some(_) => None,
            None => Some(Instant::now() + self.every),
        };
    }

    /// "page 2/4 · every 30 s", or "page 2/4 · paused (Space)".
    pub fn label(&self) -> String {
        match self.next_at {
            Some(_) => format!(
                "page {}/{} · every {:.0} s",
                self.page(),
                self.pages(),
                self.every.as_secs_f64()
            ),
            None => format!("page {}/{} · paused (Space)", self.page(), self.pages()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rotation(layouts: &[&str]) -> Rotation {
        Rotation::new(
            Vec::new(),
            layouts.iter().map(|s| (*s).to_owned()).collect(),
            Duration::from_secs(10),
        )
    }

    #[test]
    fn layouts_cycle_and_wrap_without_an_other_environment() {
        let mut r = rotation(&["wall", "database"]);
        assert_eq!((r.page(), r.pages()), (1, 2));
        let t = r.advance();
        assert_eq!(
            (r.layouts[t.layout].as_str(), t.environment),
            ("database", false)
        );
        assert_eq!(r.page(), 2);
        let t = r.advance();
        assert_eq!(
            (r.layouts[t.layout].as_str(), t.environment),
            ("wall", false)
        );
        assert_eq!(r.page(), 1);
    }

    #[test]
    fn pause_stops_the_clock_and_says_so() {
        let mut r = rotation(&["wall", "database"]);
        assert!(!r.due(Instant::now()));
        assert!(r.due(Instant::now() + Duration::from_secs(11)));
        r.toggle_pause();
        assert!(!r.due(Instant::now() + Duration::from_hours(1)));
        assert!(r.label().contains("paused"));
        r.toggle_pause();
        assert_eq!(r.label(), "page 1/2 · every 10 s");
    }
}
