//! The console window: its state ([`Console`]), how it is built, and one frame.
//!
//! A frame reads the engine's snapshot, draws the panels (which push commands), then
//! applies those commands in one place ([`commands`]); the menus, toasts, help and
//! the tiles behaviour live beside it.

mod answers;
mod behavior;
mod commands;
mod desk;
mod help;
mod menus;
mod toasts;

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::Color32;
use switchboard_core::workflow::desk::Desk;
use switchboard_core::{Clock as _, EngineHandle, SystemClock, Timestamp};

use self::behavior::Behavior;
use crate::background::Jobs;
use crate::layout::{self, Pane};
use crate::panels::{
    self, BackendsView, BreakersView, EventsView, IncidentsView, MetricsView, PanelCtx,
    TopologyView, UiCommand, WorkflowsView,
};
use crate::{notebook, palette, rotation, theme};

/// How often an idle wall redraws: its ages tick at this pace, and a notable change (a
/// flip, a source going stale, an incident) wakes it at once.
pub const WALL_TICK: Duration = Duration::from_secs(5);

/// How the console was started.
#[derive(Clone, Debug, Default)]
pub struct ConsoleOptions {
    /// Where the operator's layout is saved (none: not saved).
    pub layout_file: Option<PathBuf>,
    /// Start with this preset instead of the saved layout.
    pub layout: Option<String>,
    /// Freeze the clock at this time (tests and screenshots).
    pub fixed_now: Option<Timestamp>,
    /// Where notes, sessions and layouts live (shown in About).
    pub data_dir: Option<PathBuf>,
    /// A wall display: large type, banners of what is wrong, no actions (the engine
    /// is read-only too, in core).
    pub wall: bool,
    /// How the environment is marked (production: a frame around the window).
    pub look: switchboard_core::Look,
    /// Dark or light (none: the one last chosen, kept in the data directory; else dark,
    /// which is kind to eyes at 3 a.m.).
    pub theme: Option<egui::Theme>,
}

/// The console window's content.
pub struct Console {
    engine: EngineHandle,
    tree: egui_tiles::Tree<Pane>,
    layout_file: Option<PathBuf>,
    layout_dirty: bool,
    topology: TopologyView,
    breakers: BreakersView,
    backends: BackendsView,
    metrics: MetricsView,
    events: EventsView,
    selected: Option<String>,
    message: Option<(String, Instant)>,
    show_about: bool,
    show_help: bool,
    fixed_now: Option<Timestamp>,
    data_dir: Option<PathBuf>,
    desk: Option<Arc<Desk>>,
    /// Rung by the desk's waker: take-over jobs wait on it for the desk's answer.
    desk_bell: Arc<desk::DeskBell>,
    workflows: WorkflowsView,
    notebook: Option<notebook::Notebook>,
    incidents: IncidentsView,
    player: Option<switchboard_core::player::Player>,
    replay: panels::ReplayView,
    session_files: panels::SessionFilesView,
    wall: Wall,
    find: panels::FindView,
    look: switchboard_core::Look,
    /// Important events shown for a few seconds at the bottom right.
    toasts: toasts::Toasts,
    /// The newest log entry already considered for a toast.
    toasted: Option<Arc<switchboard_core::LogEntry>>,
    /// A wall cycling through environments and layouts.
    rotation: Option<rotation::Rotation>,
    /// The name typed in Layout → Save as.
    layout_name: String,
    /// The operator's named layouts (read at start, kept up to date on save and remove:
    /// no directory is listed while a menu is open).
    own_layouts: Vec<String>,
    /// A theme to apply at the next frame.
    theme: Option<egui::Theme>,
    /// The one queue every background answer of the window comes back on.
    jobs: Jobs<answers::Answer>,
    /// The layout file is being written (since when); one save at a time.
    layout_saving: Option<Instant>,
    /// How many layouts were asked for: only the newest ask's answer is shown.
    layout_request: u64,
}

/// Whether the console is a wall display, and whether its zoom is set.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wall {
    Off,
    On { zoomed: bool },
}

impl Console {
    /// A console on `engine`.
    pub fn new(engine: EngineHandle, opts: ConsoleOptions) -> Self {
        let mine = opts.data_dir.as_deref().map(layout::user_dir);
        let theme = opts
            .theme
            .or_else(|| opts.data_dir.as_deref().and_then(theme::load_choice))
            .unwrap_or(egui::Theme::Dark);
        let named = |name: &str| layout::resolve(name, mine.as_deref());
        let mut message = None;
        let tree = match &opts.layout {
            Some(name) => named(name).unwrap_or_else(|e| {
                message = Some((e, Instant::now()));
                named("oncall").unwrap_or_else(|_| {
                    egui_tiles::Tree::empty(egui::Id::unique("switchboard-layout"))
                })
            }),
            None => opts
                .layout_file
                .as_deref()
                .and_then(layout::load_saved)
                .or_else(|| named("oncall").ok())
                .unwrap_or_else(|| egui_tiles::Tree::empty(egui::Id::unique("switchboard-layout"))),
        };
        let console = Self {
            engine,
            tree,
            layout_file: opts.layout_file,
            layout_dirty: false,
            topology: TopologyView::default(),
            breakers: BreakersView::default(),
            backends: BackendsView::default(),
            metrics: MetricsView::default(),
            events: EventsView::default(),
            selected: None,
            message,
            show_about: false,
            show_help: false,
            fixed_now: opts.fixed_now,
            data_dir: opts.data_dir,
            desk: None,
            desk_bell: Arc::new(desk::DeskBell::default()),
            workflows: WorkflowsView::default(),
            notebook: None,
            incidents: IncidentsView::default(),
            player: None,
            replay: panels::ReplayView::default(),
            session_files: panels::SessionFilesView::default(),
            wall: if opts.wall {
                Wall::On { zoomed: false }
            } else {
                Wall::Off
            },
            look: opts.look,
            find: panels::FindView::default(),
            toasts: Vec::new(),
            toasted: None,
            rotation: None,
            layout_name: String::new(),
            own_layouts: Vec::new(),
            theme: Some(theme),
            jobs: Jobs::default(),
            layout_saving: None,
            layout_request: 0,
        };
        console.list_own_layouts();
        console
    }

    /// Cycles pages (environments and layouts) every so often: a wall's rotation.
    /// Space pauses it, the right arrow shows the next page.
    #[must_use]
    pub fn with_rotation(mut self, mut rotation: rotation::Rotation) -> Self {
        if !rotation.resolved()
            && let Err(e) = rotation.resolve(self.user_layouts().as_deref())
        {
            self.message = Some((e, Instant::now()));
        }
        self.rotation = Some(rotation);
        self
    }

    /// The page of the rotation on screen, and how many there are.
    pub fn rotation_page(&self) -> Option<(usize, usize)> {
        self.rotation.as_ref().map(|r| (r.page(), r.pages()))
    }

    /// Shows the rotation's next page when it is due, or when asked (the right arrow).
    fn rotate(&mut self, ui: &egui::Ui) {
        let Some(r) = &mut self.rotation else {
            return;
        };
        // Keys go to a text field first (Find's, on a wall).
        let typing = ui.ctx().egui_wants_keyboard_input();
        if !typing && ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Space)) {
            r.toggle_pause();
        }
        let asked = !typing
            && ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::ArrowRight));
        if asked || r.due(Instant::now()) {
            self.turn_page();
        }
        if let Some(t) = self.rotation.as_ref().and_then(|r| r.next_at) {
            // The next page comes on time even on a quiet wall (and only then: no
            // countdown ticks on screen, so a rotating wall idles like any other).
            ui.ctx()
                .request_repaint_after(t.saturating_duration_since(Instant::now()));
        }
    }

    /// Shows the rotation's next page.
    fn turn_page(&mut self) {
        let Some(r) = &mut self.rotation else {
            return;
        };
        let turn = r.advance();
        if turn.environment
            && let Some((engine, look)) = r.others.pop_front()
        {
            let engine = std::mem::replace(&mut self.engine, engine);
            let look = std::mem::replace(&mut self.look, look);
            r.others.push_back((engine, look));
            // The new environment's history is not news, and what the views keep
            // (the topology's layout, filters, the selection) was the other one's.
            self.toasted = None;
            self.toasts.clear();
            self.selected = None;
            self.topology = TopologyView::default();
            self.breakers = BreakersView::default();
            self.backends = BackendsView::default();
            self.metrics = MetricsView::default();
            self.events = EventsView::default();
            self.find = panels::FindView::default();
        }
        if let Some(Some(tree)) = r.trees.get(turn.layout) {
            self.tree = tree.clone();
        }
    }

    /// Keeps incidents and notes in the incident store at `store`: the console's
    /// incidents and their timeline (with the workflow steps of `journal`) are
    /// recorded, measured against `objectives`, and the operator's notes are saved
    /// there; all of it off the UI thread.
    #[must_use]
    pub fn with_incident_store(
        mut self,
        store: PathBuf,
        journal: Option<PathBuf>,
        objectives: switchboard_core::store::Objectives,
    ) -> Self {
        let environment = self.engine.environment().to_owned();
        self.incidents
            .set_export_dir(store.parent().map(std::path::Path::to_path_buf));
        let relay = self.engine.note_sender().map(|share| notebook::Relay {
            share: Box::new(share),
        });
        let on_relay = relay.is_some();
        let nb = notebook::Notebook::start(store, journal, environment, objectives, relay);
        if on_relay {
            let send = nb.sender();
            let repaint = self.jobs.repainter();
            self.engine.on_relay_news(move |news| {
                send(notebook::Request::Relay(news));
                repaint();
            });
        }
        self.notebook = Some(nb);
        self
    }

    /// Replays a session: the engine is the player's read-only handle (see
    /// [`switchboard_core::player::open`]); the bar under the panels moves the
    /// playhead, and ages are measured from it.
    #[must_use]
    pub fn with_player(mut self, player: switchboard_core::player::Player) -> Self {
        self.player = Some(player);
        self
    }

    /// The toasts on screen, as "subject: message".
    pub fn toasts(&self) -> Vec<String> {
        self.toasts
            .iter()
            .map(|(e, _)| format!("{}: {}", e.subject, e.message))
            .collect()
    }

    /// The text in the note editor, if one is open.
    pub fn note_editor_text(&self) -> Option<&str> {
        self.incidents.editor_text()
    }

    /// Lets this console plan and run workflows through `desk`. Sets the desk's waker:
    /// a change on the desk repaints the window, and a take-over's answer comes back
    /// through the window's job queue.
    #[must_use]
    pub fn with_desk(mut self, desk: Desk) -> Self {
        let repaint = self.jobs.repainter();
        let bell = Arc::clone(&self.desk_bell);
        desk.set_waker(move || {
            repaint();
            bell.ring();
        });
        desk.set_observed(self.engine.view());
        desk.refresh_offers();
        self.desk = Some(Arc::new(desk));
        self
    }

    /// The workflow desk, if this console has one.
    pub fn desk(&self) -> Option<&Desk> {
        self.desk.as_deref()
    }

    /// The engine this console shows.
    pub fn engine(&self) -> &EngineHandle {
        &self.engine
    }

    /// The panes of the layout on screen, sorted (to compare layouts).
    pub fn layout_panes(&self) -> Vec<Pane> {
        layout::panes_of(&self.tree)
    }

    /// How many background jobs (layout, theme, session saves, dialogs…) have not had
    /// their answer applied yet.
    pub fn jobs_pending(&self) -> usize {
        self.jobs.pending()
    }

    /// The selected thing, if any.
    pub fn selected(&self) -> Option<&str> {
        self.selected.as_deref()
    }

    /// Where the operator's named layouts are kept.
    fn user_layouts(&self) -> Option<PathBuf> {
        self.data_dir.as_deref().map(layout::user_dir)
    }

    /// Draws one frame into `ui` (the whole window).
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.jobs.set_repaint(ui.ctx());
        self.apply_answers();
        if let Some(t) = self.theme.take() {
            ui.ctx().set_theme(t);
        }
        self.rotate(ui);
        let state = self.engine.snapshot();
        if let Some(nb) = &mut self.notebook {
            nb.offer(&state);
        }
        // A sped-up drill runs ahead of the wall clock: ages are measured from whichever is later.
        // Read once a frame: the replay's playhead and controls.
        let replay_status = self
            .player
            .as_ref()
            .map(switchboard_core::player::Player::status);
        let now = match (&replay_status, self.fixed_now) {
            (_, Some(t)) => t,
            // A replay's ages run from its playhead.
            (Some(st), None) => st.at.max(state.now),
            (None, None) => SystemClock.now().max(state.now),
        };
        // The desk stamps plans, offers and runs on the system clock: their ages are
        // measured from it (or from the fixed test clock), read here once a frame.
        let desk_now = self.fixed_now.unwrap_or_else(|| SystemClock.now());
        let commands = RefCell::new(Vec::new());
        let selected = self.selected.clone();
        let offers = self
            .desk
            .as_ref()
            .map(|d| d.offers().offers)
            .unwrap_or_default();
        let ctx = PanelCtx {
            state: &state,
            now,
            selected: selected.as_deref(),
            commands: &commands,
            offers: offers.as_slice(),
            read_only: self.engine.read_only().is_some(),
            wall: self.wall != Wall::Off,
        };
        if ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::F1)) {
            self.show_help = !self.show_help;
        }
        if ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::F)) {
            self.find.toggle();
        }
        if ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::F12)) {
            ctx.push(UiCommand::File(panels::FileCommand::ExportPng));
        }
        match self.wall {
            Wall::Off => {
                if ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::K)) {
                    ctx.push(UiCommand::Palette);
                }
                if ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::N)) {
                    ctx.push(UiCommand::QuickNote);
                }
            }
            // Readable across a room: everything one and a half times larger.
            Wall::On { zoomed: false } => {
                ui.ctx().set_zoom_factor(1.5);
                self.wall = Wall::On { zoomed: true };
            }
            Wall::On { zoomed: true } => {}
        }

        egui::Panel::top("top-bar").show(ui, |ui| self.top_bar_ui(ui, &ctx));
        if self.wall != Wall::Off {
            // Every environment's banners, whichever page is on screen.
            let others: Vec<_> = self.rotation.as_ref().map_or_else(Vec::new, |r| {
                r.others
                    .iter()
                    .map(|(e, _)| (e.environment().to_owned(), e.snapshot()))
                    .collect()
            });
            egui::Panel::top("wall-banners")
                .show(ui, |ui| panels::wall_banners_ui(ui, &ctx, &others));
        }
        // Read once a frame (a lock and a copy): the status bar and the session windows.
        let recording = self.engine.recording();
        let stopped = self.engine.recording_stopped();
        egui::Panel::bottom("status-bar").show(ui, |ui| {
            let shown = recording.as_ref().map(|p| p.display().to_string());
            panels::status_bar_ui(
                ui,
                &ctx,
                shown.as_deref(),
                stopped.as_deref(),
                self.engine.read_only().as_deref(),
            );
        });
        if let (Some(player), Some(st)) = (&self.player, &replay_status) {
            egui::Panel::bottom("replay-bar").show(ui, |ui| {
                panels::replay_bar_ui(ui, player, st, &mut self.replay);
            });
            if st.playing {
                ui.ctx().request_repaint_after(Duration::from_millis(100));
            }
        }
        let freshness = panels::freshness(&ctx);
        let central = egui::CentralPanel::default().show(ui, |ui| {
            let mut behavior = Behavior {
                ctx: &ctx,
                freshness: &freshness,
                topology: &mut self.topology,
                breakers: &mut self.breakers,
                backends: &mut self.backends,
                metrics: &mut self.metrics,
                events: &mut self.events,
                desk: self.desk.as_deref(),
                desk_now,
                workflows: &mut self.workflows,
                incidents: &mut self.incidents,
                notebook: self.notebook.as_ref(),
                edited: false,
            };
            // A frame reads the layout: the tiles widget edits a copy (a copy of a
            // normal layout costs about a microsecond), and an edit is a command like
            // any other.
            let mut tree = self.tree.clone();
            tree.ui(&mut behavior, ui);
            if behavior.edited {
                // First of the frame's commands: the widget edited the layout during the
                // frame, so a menu's change to it (Show a pane, a preset) goes on top,
                // as when the widget edited the layout in place.
                let edit = UiCommand::Layout(panels::LayoutCommand::SetTree(Box::new(tree)));
                commands.borrow_mut().insert(0, edit);
            }
        });
        // Windows stay below the top bar: the safety valve is never covered.
        let area = central.response.rect;
        if self.show_about {
            self.about_ui(ui);
        }
        if self.show_help {
            self.help_ui(ui, area);
        }
        // The selected breaker's detail, in a window of its own.
        if let Some(id) = self.selected.clone()
            && let Some(b) = state.breakers.get(id.as_str())
        {
            let mut open = true;
            egui::Window::new(format!("Breaker {id}"))
                .id(egui::Id::unique(("breaker-detail", id.as_str())))
                .open(&mut open)
                .default_width(560.0)
                .show(ui.ctx(), |ui| panels::breaker_detail_ui(ui, &ctx, &id, b));
            if !open {
                self.selected = None;
            }
        }

        if let Some(desk) = &self.desk {
            panels::wizard_ui(ui.ctx(), area, &ctx, desk_now, desk, &mut self.workflows);
        }
        if self.workflows.palette {
            let list = palette::commands(&palette::Can {
                own_layouts: &self.own_layouts,
                theme: ui.ctx().theme(),
                notes: self.notebook.is_some(),
                save_session: self.can_save_session(),
                drill: self.drill_faults(&state),
            });
            if let Some(cmd) = panels::palette_ui(
                ui.ctx(),
                area,
                &ctx,
                desk_now,
                self.desk.as_deref(),
                &mut self.workflows,
                &list,
            ) {
                self.run_palette(&ctx, cmd);
            }
        }

        let sc = panels::SessionCtx {
            recording,
            now,
            incident_start: state.open_incident().map(|i| i.started_at),
        };
        panels::session_windows_ui(ui.ctx(), area, &mut self.session_files, &sc, &ctx);
        if let Some(nb) = &self.notebook {
            panels::note_windows_ui(ui.ctx(), area, &ctx, &mut self.incidents, nb);
        }

        panels::find_ui(ui.ctx(), area, &ctx, &mut self.find);
        // A wall has its banners; toasts would only cover its tiles.
        if self.wall == Wall::Off {
            self.toasts_ui(ui.ctx(), &state, area);
        }
        if self.look.production {
            // A frame around the whole window: nobody mistakes production for a lab.
            let color = env_color(&self.look);
            ui.ctx()
                .layer_painter(egui::LayerId::new(
                    egui::Order::Foreground,
                    egui::Id::unique("production-frame"),
                ))
                .rect_stroke(
                    ui.ctx().content_rect().shrink(2.0),
                    0.0,
                    egui::Stroke::new(4.0, color),
                    egui::StrokeKind::Inside,
                );
        }

        self.apply_commands(commands.into_inner(), ui.ctx(), now, selected.as_deref());
        self.save_layout_if_edited(ui);
        // The store answers by publishing a new shelf: look again until it has.
        if self.notebook.as_ref().is_some_and(notebook::Notebook::busy) {
            ui.ctx().request_repaint_after(Duration::from_millis(50));
        }
        // Ages on screen tick once a second even when nothing arrives; that is all an idle
        // console redraws. A wall, read from across the room, ticks every few seconds:
        // anything notable (a flip, a source going stale) wakes it at once all the same.
        ui.ctx().request_repaint_after(if self.wall == Wall::Off {
            Duration::from_secs(1)
        } else {
            WALL_TICK
        });
    }
}

/// An environment's colour: its own, or the palette's red-orange for production.
fn env_color(look: &switchboard_core::Look) -> Color32 {
    look.rgb()
        .map_or(theme::BAD, |(r, g, b)| Color32::from_rgb(r, g, b))
}

impl eframe::App for Console {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        Console::ui(self, ui);
    }
}
