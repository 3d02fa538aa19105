//! Panels of the console. Each is a function `*_ui(ui, ctx, view)`: it reads the
//! snapshot in [`PanelCtx`] (and the cheap copies the desk and the incident store
//! publish) and pushes [`UiCommand`]s, which the console applies after the frame, in
//! one place. A panel never acts itself: not on the engine, the workflow desk, the
//! incident store, nor any file; what takes time comes back on the console's job queue.

mod backends;
mod breaker_detail;
mod breakers;
mod databases;
mod dns;
mod events;
mod file_field;
mod find;
mod freshness;
mod incidents;
mod metrics;
mod quorum;
mod relay;
mod replay;
mod session_files;
mod status_bar;
mod text_match;
mod topology;
mod wall;
mod workflows;

use std::cell::RefCell;
use std::path::PathBuf;

use switchboard_core::workflow::Kind;
use switchboard_core::workflow::desk::Offer;
use switchboard_core::{Intent, State, Timestamp};

pub use self::backends::{BackendsView, backends_ui};
pub use self::breaker_detail::breaker_detail_ui;
pub use self::breakers::{BreakerSort, BreakersView, breakers_ui};
pub use self::databases::databases_ui;
pub use self::dns::dns_ui;
pub use self::events::{EventsView, events_ui};
pub use self::file_field::{FileField, choose as choose_file};
pub use self::find::{FindView, find_ui};
pub use self::freshness::{Freshness, compute as freshness, cue_ui as freshness_cue_ui};
pub use self::incidents::{IncidentsView, incidents_ui, note_windows_ui};
pub use self::metrics::{MetricsSort, MetricsView, metrics_ui};
pub use self::quorum::quorum_ui;
pub use self::relay::{relay_badge_ui, relay_lost_ui};
pub use self::replay::{ReplayView, replay_bar_ui};
pub use self::session_files::{
    SessionCtx, SessionFilesView, save as save_session, session_windows_ui, spawn_replay,
};
pub use self::status_bar::status_bar_ui;
pub use self::topology::{TopologyView, topology_ui};
pub use self::wall::wall_banners_ui;
pub use self::workflows::{WorkflowsView, journal_ui, palette_ui, valve_ui, wizard_ui};

/// What a panel may ask for; applied after the frame.
#[derive(Clone, Debug, PartialEq)]
pub enum UiCommand {
    /// Send an operator intent to the engine.
    Intent(Intent),
    /// Select a thing by name (service, instance, cluster, breaker), or clear with `None`.
    Select(Option<String>),
    /// Plan a workflow and show it in the wizard.
    Plan(Kind, String),
    /// Open the command palette.
    Palette,
    /// Open the note editor on a note pinned to now and the selected thing.
    QuickNote,
    /// Show a pane (adding it to the layout when it is not there).
    Show(crate::layout::Pane),
    /// Act on a workflow job, the safety valve, or what the desk has read.
    Desk(DeskCommand),
    /// Ask the incident store (its own thread) for something.
    Notebook(crate::notebook::Request),
    /// Load, save or remove a layout (files: read and written off the UI thread).
    Layout(LayoutCommand),
    /// Switch to this theme, and keep the choice for the next start.
    Theme(egui::Theme),
    /// A file dialog, a session saved or replayed, the view exported.
    File(FileCommand),
}

/// What the workflow panels ask of the desk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeskCommand {
    /// Run job `job`'s plan; `typed` is the operator's typed confirmation.
    Confirm {
        /// The job.
        job: u64,
        /// What was typed.
        typed: String,
    },
    /// Go past a refusing guard of job `job`'s plan, for `reason` (journaled).
    Override {
        /// The job.
        job: u64,
        /// The guard's name.
        guard: String,
        /// Why, in the operator's words.
        reason: String,
    },
    /// Record `name` as the second approver of job `job`'s plan.
    Approve {
        /// The job.
        job: u64,
        /// The approver.
        name: String,
    },
    /// Stop job `job` before its next step.
    Cancel(u64),
    /// Forget job `job` (unless it runs).
    Dismiss(u64),
    /// Plan job `job` again, and show the new plan.
    Replan(u64),
    /// The manual step job `job` waits on is done.
    Acknowledge(u64),
    /// Take over the interrupted run `run`: resume it, or roll it back.
    TakeOver {
        /// The journal's run id.
        run: i64,
        /// Plan the inverse instead.
        rollback: bool,
    },
    /// Pull the safety valve: every run stops before its next step.
    PullValve,
    /// Re-arm the desk after the valve.
    ResetValve,
    /// Read the offers again.
    RefreshOffers,
    /// Read the journal again.
    RefreshHistory,
}

/// What the Layout menu, the palette and the tiles widget ask of layouts.
#[derive(Clone, Debug, PartialEq)]
pub enum LayoutCommand {
    /// Put a preset, or one of the operator's named layouts, on screen.
    Load(String),
    /// Save the layout on screen as the operator's layout of this name.
    SaveAs(String),
    /// Remove the operator's layout of this name.
    Remove(String),
    /// The operator edited the layout on screen (a drag, a resize, a tab chosen): this
    /// is the edited layout, to put on screen and keep in the layout file.
    SetTree(Box<egui_tiles::Tree<crate::layout::Pane>>),
}

/// Which form a file dialog fills in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialog {
    /// File → Open session.
    OpenSession,
    /// File → Save session.
    SaveSession,
    /// The incident page's Export….
    Postmortem,
}

/// What the File menu and the file forms ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileCommand {
    /// Ask the system's file dialog for a file, starting at `start`.
    Choose {
        /// The form the answer goes to.
        dialog: Dialog,
        /// Where the dialog starts (a directory, or a file in one).
        start: PathBuf,
        /// A file to write (else one to read).
        save: bool,
    },
    /// Look whether a path is a file (the open form's check, as the path is typed).
    Check(PathBuf),
    /// Open a session file in a replay window of its own.
    Replay(PathBuf),
    /// Write the span `from`..`to` of the recorded session `src` to `dst`.
    SaveSession {
        /// The session being recorded.
        src: PathBuf,
        /// The new file.
        dst: PathBuf,
        /// The span's start.
        from: Timestamp,
        /// The span's end.
        to: Timestamp,
    },
    /// Write the next frame to a PNG in the data directory.
    ExportPng,
}

/// What every panel reads.
pub struct PanelCtx<'a> {
    /// The snapshot of this frame.
    pub state: &'a State,
    /// Wall-clock time of this frame (ages are measured against it).
    pub now: Timestamp,
    /// The selected thing's name, if any.
    pub selected: Option<&'a str>,
    /// Commands pushed during the frame.
    pub commands: &'a RefCell<Vec<UiCommand>>,
    /// The workflows that can be started here, as last read (context menus).
    pub offers: &'a [Offer],
    /// Nothing can act from this console (wall, replay, a read-only environment):
    /// no action is offered.
    pub read_only: bool,
    /// A wall display: the compact form of each panel (read across a room, not worked in).
    pub wall: bool,
}

impl PanelCtx<'_> {
    /// Queues a command.
    pub fn push(&self, cmd: UiCommand) {
        self.commands.borrow_mut().push(cmd);
    }

    /// Seconds since `t` on the frame's clock (never negative).
    pub fn age_secs(&self, t: Timestamp) -> f64 {
        self.now.millis_since(t).max(0) as f64 / 1000.0
    }

    /// Seconds since something reported at `seen` was last known to hold: sources send
    /// changes only (and a heartbeat while nothing changes), so what a source that is up
    /// said last still holds when it last spoke. `source`: its reporting source (`None`:
    /// the newest of the up sources that feed the database pane).
    pub fn held_age_secs(&self, seen: Timestamp, source: Option<&str>) -> f64 {
        use switchboard_core::model::SourceStatus;
        let up = |s: &&switchboard_core::SourceInfo| s.status == SourceStatus::Up;
        let heard = match source {
            Some(id) => self
                .state
                .sources
                .get(id)
                .filter(up)
                .map(|s| s.last_event_at),
            None => self
                .state
                .sources
                .values()
                .filter(up)
                .filter(|s| {
                    s.kind
                        .feeds()
                        .databases
                        .counts(!self.state.databases.is_empty())
                })
                .map(|s| s.last_event_at)
                .max(),
        };
        self.age_secs(heard.map_or(seen, |h| h.max(seen)))
    }
}
