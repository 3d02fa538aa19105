//! # switchboard (the app)
//!
//! The native console on top of `switchboard-core`: an eframe window with dockable
//! panels (`egui_tiles`), and the CLI (`main.rs`). The window never waits on I/O: each
//! frame reads the engine's latest `Arc<State>` snapshot, and the engine wakes the
//! window only when a new snapshot exists, so an idle console draws nothing.
//!
//! - [`Console`]: the window's content; [`Console::ui`] draws one frame.
//! - `panels`: one function per panel, reading a [`panels::PanelCtx`].
//! - `layout`: presets from `layouts/` and the saved layout.
//! - `theme`: the colour-blind-safe palette, glyphs and formatting.

pub mod background;
pub mod layout;
pub mod notebook;
pub mod palette;
pub mod panels;
pub mod png_export;
pub mod rotation;
pub mod session_files;
pub mod theme;

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui::{Color32, RichText};
use switchboard_core::{Clock as _, DrillFault, EngineHandle, Intent, SystemClock, Timestamp};

use crate::layout::Pane;
use switchboard_core::workflow::desk::Desk;

use crate::panels::{
    BackendsView, BreakersView, EventsView, IncidentsView, MetricsView, PanelCtx, TopologyView,
    UiCommand, WorkflowsView,
};

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
    desk: Option<Desk>,
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
    toasts: Toasts,
    /// The newest log entry already considered for a toast.
    toasted: Option<std::sync::Arc<switchboard_core::LogEntry>>,
    /// A wall cycling through environments and layouts.
    rotation: Option<rotation::Rotation>,
    /// The name typed in Layout → Save as.
    layout_name: String,
    /// The operator's named layouts (read at start, kept up to date on save and remove:
    /// no directory is listed while a menu is open).
    own_layouts: Vec<String>,
    /// A theme to apply at the next frame.
    theme: Option<egui::Theme>,
    /// File → Export view as PNG.
    png: png_export::PngExport,
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
        Self {
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
            own_layouts: mine.as_deref().map(layout::user_names).unwrap_or_default(),
            theme: Some(theme),
            png: png_export::PngExport::default(),
        }
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
        self.notebook = Some(notebook::Notebook::start(
            store,
            journal,
            environment,
            objectives,
        ));
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

    /// Lets this console plan and run workflows through `desk`.
    #[must_use]
    pub fn with_desk(mut self, desk: Desk) -> Self {
        desk.refresh_offers();
        self.desk = Some(desk);
        self
    }

    /// The workflow desk, if this console has one.
    pub fn desk(&self) -> Option<&Desk> {
        self.desk.as_ref()
    }

    /// The engine this console shows.
    pub fn engine(&self) -> &EngineHandle {
        &self.engine
    }

    /// The panes of the layout on screen, sorted (to compare layouts).
    pub fn layout_panes(&self) -> Vec<Pane> {
        layout::panes_of(&self.tree)
    }

    /// The selected thing, if any.
    pub fn selected(&self) -> Option<&str> {
        self.selected.as_deref()
    }

    /// Replaces the layout with a preset or one of the operator's named layouts.
    pub fn apply_preset(&mut self, name: &str) {
        match layout::resolve(name, self.user_layouts().as_deref()) {
            Ok(tree) => {
                self.tree = tree;
                self.layout_dirty = true;
            }
            Err(e) => self.message = Some((e, Instant::now())),
        }
    }

    /// Saves the layout on screen as the operator's layout `name`.
    pub fn save_layout_as(&mut self, name: &str) -> Result<(), String> {
        let dir = self
            .user_layouts()
            .ok_or("layouts are saved in the data directory, and this console has none")?;
        layout::save_named(&dir, name, &self.tree)?;
        if !self.own_layouts.iter().any(|n| n == name) {
            self.own_layouts.push(name.to_owned());
            self.own_layouts.sort();
        }
        self.message = Some((format!("layout saved as {name}"), Instant::now()));
        Ok(())
    }

    /// Carries out a console command picked in the palette.
    fn run_palette(
        &mut self,
        egui_ctx: &egui::Context,
        ctx: &PanelCtx<'_>,
        cmd: palette::PaletteCmd,
    ) {
        use palette::PaletteCmd as P;
        match cmd {
            P::Show(pane) => ctx.push(UiCommand::Show(pane)),
            P::Layout(name) => self.apply_preset(&name),
            P::Theme(t) => self.set_theme(t),
            P::ExportPng => self.export_png(egui_ctx, ctx.now),
            P::Find => self.find.toggle(),
            P::Help => self.show_help = true,
            P::Note => ctx.push(UiCommand::QuickNote),
            P::SaveSession => self
                .session_files
                .show_save(self.data_dir.as_deref(), ctx.now),
            P::OpenSession => self.session_files.show_open(self.data_dir.as_deref()),
            P::Inject(fault) => ctx.push(UiCommand::Intent(Intent::DrillInject { fault })),
        }
    }

    /// File → Save session is offered: a live console that is not a wall.
    fn can_save_session(&self) -> bool {
        self.player.is_none() && self.wall == Wall::Off
    }

    /// Drill faults can be started from here: a drill that takes intents.
    fn drill_faults(&self, state: &switchboard_core::State) -> bool {
        state.drill && self.engine.read_only().is_none()
    }

    /// Switches the theme (at the next frame) and keeps the choice for the next start.
    fn set_theme(&mut self, theme: egui::Theme) {
        self.theme = Some(theme);
        if let Some(dir) = &self.data_dir
            && let Err(e) = theme::save_choice(dir, theme)
        {
            self.message = Some((e, Instant::now()));
        }
    }

    /// Writes the next frame to a PNG in the data directory (else the temp directory).
    fn export_png(&self, ctx: &egui::Context, now: Timestamp) {
        let dir = self.data_dir.clone().unwrap_or_else(std::env::temp_dir);
        let path = png_export::default_path(&dir, self.engine.environment(), now);
        self.png.request(ctx, path);
    }

    /// Where the operator's named layouts are kept.
    fn user_layouts(&self) -> Option<PathBuf> {
        self.data_dir.as_deref().map(layout::user_dir)
    }

    /// Draws one frame into `ui` (the whole window).
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        if let Some(t) = self.theme.take() {
            ui.ctx().set_theme(t);
        }
        if let Some(done) = self.png.poll() {
            let text = match done {
                Ok(p) => format!("view saved as {}", p.display()),
                Err(e) => e,
            };
            self.message = Some((text, Instant::now()));
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
            self.export_png(ui.ctx(), now);
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
        egui::Panel::bottom("status-bar").show(ui, |ui| {
            let shown = recording.as_ref().map(|p| p.display().to_string());
            panels::status_bar_ui(ui, &ctx, shown.as_deref(), self.engine.read_only());
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
                desk: self.desk.as_ref(),
                workflows: &mut self.workflows,
                incidents: &mut self.incidents,
                notebook: self.notebook.as_mut(),
                edited: false,
            };
            self.tree.ui(&mut behavior, ui);
            if behavior.edited {
                self.layout_dirty = true;
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
            if let Some(id) = desk.take_focus() {
                self.workflows.focus(id);
            }
            if let Some(e) = desk.take_error() {
                self.message = Some((e, Instant::now()));
            }
            panels::wizard_ui(ui.ctx(), area, desk, &mut self.workflows);
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
                self.desk.as_ref(),
                &mut self.workflows,
                &list,
            ) {
                self.run_palette(ui.ctx(), &ctx, cmd);
            }
        }

        let sc = panels::SessionCtx {
            recording,
            data_dir: self.data_dir.as_deref(),
            now,
            incident_start: state.open_incident().map(|i| i.started_at),
        };
        if let Some(m) = panels::session_windows_ui(ui.ctx(), area, &mut self.session_files, &sc) {
            self.message = Some((m, Instant::now()));
        }
        if let Some(nb) = &mut self.notebook {
            panels::note_windows_ui(ui.ctx(), area, now, &mut self.incidents, nb);
            if nb.busy() {
                ui.ctx().request_repaint_after(Duration::from_millis(50));
            }
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

        for cmd in commands.into_inner() {
            match cmd {
                UiCommand::Show(pane) => {
                    layout::show_pane(&mut self.tree, pane);
                    self.layout_dirty = true;
                }
                UiCommand::QuickNote => match &mut self.notebook {
                    Some(nb) => self.incidents.quick_note(nb, now, selected.clone()),
                    None => {
                        self.message = Some((
                            "notes need a data directory (this console has none)".into(),
                            Instant::now(),
                        ));
                    }
                },
                UiCommand::Select(s) => self.selected = s,
                UiCommand::Plan(kind, target) => match &self.desk {
                    Some(desk) => panels::start_plan(desk, &mut self.workflows, kind, &target),
                    None => {
                        self.message =
                            Some(("this console cannot run workflows".into(), Instant::now()));
                    }
                },
                UiCommand::Palette => {
                    panels::open_palette(self.desk.as_ref(), &mut self.workflows);
                }
                UiCommand::Intent(i) => {
                    if let Err(e) = self.engine.send(i) {
                        self.message = Some((format!("{e:#}"), Instant::now()));
                    }
                }
            }
        }
        if self.layout_dirty && !ui.input(|i| i.pointer.any_down()) {
            self.layout_dirty = false;
            if let Some(path) = &self.layout_file
                && let Err(e) = layout::save(path, &self.tree)
            {
                self.message = Some((
                    format!("cannot save the layout: {e} ({})", path.display()),
                    Instant::now(),
                ));
            }
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

    fn top_bar_ui(&mut self, ui: &mut egui::Ui, ctx: &PanelCtx<'_>) {
        let state = ctx.state;
        if let Some(p) = &self.player {
            theme::strip(
                ui,
                theme::INFO,
                &format!(
                    "REPLAY · {} · recorded, read-only: nothing here can act on a real system",
                    p.file()
                ),
            );
        }
        if state.drill {
            theme::strip(
                ui,
                theme::DRILL,
                "DRILL · simulated fleet · nothing here touches a real system",
            );
        }
        egui::MenuBar::new().ui(ui, |ui| {
            ui.label(RichText::new("SWITCHBOARD").strong());
            if self.look.production {
                theme::badge(
                    ui,
                    env_color(&self.look),
                    theme::Glyph::Triangle,
                    &format!("PRODUCTION · {}", self.engine.environment()),
                );
            } else if self.look.color.is_some() {
                ui.colored_label(
                    env_color(&self.look),
                    format!("env {}", self.engine.environment()),
                );
            } else {
                ui.weak(format!("env {}", self.engine.environment()));
            }
            if self.wall != Wall::Off {
                ui.label(
                    RichText::new(" WALL · read-only ")
                        .strong()
                        .color(Color32::BLACK)
                        .background_color(theme::INFO),
                );
            }
            if let Some(r) = &self.rotation {
                ui.weak(r.label());
            }
            ui.menu_button("File", |ui| {
                if ui
                    .button("Export view as PNG (F12)")
                    .on_hover_text("The window as it is now, to the data directory's screenshots/")
                    .clicked()
                {
                    self.export_png(ui.ctx(), ctx.now);
                    ui.close();
                }
                if ui.button("Open session…").clicked() {
                    self.session_files.show_open(self.data_dir.as_deref());
                    ui.close();
                }
                if self.can_save_session() && ui.button("Save session…").clicked() {
                    self.session_files
                        .show_save(self.data_dir.as_deref(), ctx.now);
                    ui.close();
                }
            });
            ui.menu_button("Layout", |ui| {
                for name in layout::preset_names() {
                    if ui.button(format!("Preset: {name}")).clicked() {
                        self.apply_preset(name);
                        ui.close();
                    }
                }
                self.own_layouts_menu(ui);
                ui.separator();
                let light = ui.ctx().theme() == egui::Theme::Light;
                let (next, word) = if light {
                    (egui::Theme::Dark, "Dark theme")
                } else {
                    (egui::Theme::Light, "Light theme")
                };
                if ui.button(word).clicked() {
                    self.set_theme(next);
                    ui.close();
                }
                ui.separator();
                for pane in Pane::ALL {
                    if ui.button(format!("Show {}", pane.title())).clicked() {
                        layout::show_pane(&mut self.tree, pane);
                        self.layout_dirty = true;
                        ui.close();
                    }
                }
            });
            if self.drill_faults(state) {
                ui.menu_button("Drill", |ui| {
                    for f in DrillFault::ALL {
                        if ui
                            .button(format!("Inject {}", f.as_str()))
                            .on_hover_text(f.description())
                            .clicked()
                        {
                            ctx.push(UiCommand::Intent(Intent::DrillInject { fault: f }));
                            ui.close();
                        }
                    }
                });
            }
            if ui.button("About").clicked() {
                self.show_about = !self.show_about;
            }
            if ui.button("Find (Ctrl+F)").clicked() {
                self.find.toggle();
            }
            if ui.button("Help (F1)").clicked() {
                self.show_help = !self.show_help;
            }
            if let Some(desk) = &self.desk {
                ui.separator();
                panels::valve_ui(ui, desk, &mut self.workflows);
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                match state.open_incident() {
                    Some(i) => {
                        // The stored incident's number and severity, when it is recorded.
                        let stored = self.notebook.as_ref().and_then(|nb| {
                            nb.shelf()
                                .incidents
                                .iter()
                                .find(|s| s.started_at == i.started_at && s.title == i.title)
                                .map(|s| (s.id, s.severity))
                        });
                        // Numbered as stored; the console's own number only without a
                        // store (the two count differently).
                        let (number, severity) = match stored {
                            Some((id, sev)) => (format!(" #{id}"), sev),
                            None if self.notebook.is_some() => (String::new(), i.severity()),
                            None => (format!(" #{}", i.id), i.severity()),
                        };
                        let text = format!(
                            "INCIDENT{number} · Sev{severity} · {} · open {}",
                            i.title,
                            theme::format_age(ctx.age_secs(i.detected_at))
                        );
                        let r = ui.add(
                            egui::Label::new(
                                RichText::new(text)
                                    .strong()
                                    .color(Color32::BLACK)
                                    .background_color(theme::BAD),
                            )
                            .sense(egui::Sense::click()),
                        );
                        if let Some((id, _)) = stored
                            && r.on_hover_text("Open its page").clicked()
                        {
                            layout::show_pane(&mut self.tree, Pane::Incidents);
                            self.incidents.focus(id);
                        }
                    }
                    None => {
                        ui.colored_label(theme::GOOD, "no open incident");
                    }
                }
                if let Some((msg, at)) = &self.message
                    && at.elapsed() < Duration::from_secs(8)
                {
                    // Cut to the room left beside the menus; the whole text on hover.
                    ui.add(egui::Label::new(RichText::new(msg).color(theme::WARN)).truncate())
                        .on_hover_text(msg);
                }
            });
        });
    }

    /// Toasts for what matters (critical log entries, incidents recovering), eight
    /// seconds each, at most four, in the bottom right corner.
    fn toasts_ui(
        &mut self,
        ctx: &egui::Context,
        state: &switchboard_core::State,
        area: egui::Rect,
    ) {
        // Held, the newest entry seen keeps its address: no later entry can take it.
        let newest = state.log.back().cloned();
        if let Some(seen) = &self.toasted {
            let fresh: Vec<_> = state
                .log
                .iter()
                .rev()
                .take_while(|e| !std::sync::Arc::ptr_eq(e, seen))
                .cloned()
                .collect();
            for e in fresh.into_iter().rev() {
                toast_news(&mut self.toasts, e, Instant::now());
            }
        }
        // The first frame's log is history, not news.
        if newest.is_some() {
            self.toasted = newest;
        }
        self.toasts
            .retain(|(_, at)| at.elapsed() < Duration::from_secs(8));
        let excess = self.toasts.len().saturating_sub(4);
        self.toasts.drain(..excess);
        if self.toasts.is_empty() {
            return;
        }
        egui::Area::new(egui::Id::unique("toasts"))
            .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-12.0, -12.0))
            .constrain_to(area)
            .order(egui::Order::Foreground)
            .show(ctx, |ui| {
                for (e, _) in &self.toasts {
                    let (color, glyph, _) = theme::severity_style(e.severity);
                    egui::Frame::popup(ui.style())
                        .stroke(egui::Stroke::new(2.0, color))
                        .show(ui, |ui| {
                            ui.set_max_width(420.0);
                            ui.horizontal(|ui| {
                                theme::badge(ui, color, glyph, &e.subject);
                                ui.label(&e.message);
                            });
                        });
                }
            });
        ctx.request_repaint_after(Duration::from_secs(1));
    }

    /// The operator's named layouts: load or remove one, save the one on screen.
    fn own_layouts_menu(&mut self, ui: &mut egui::Ui) {
        let Some(dir) = self.user_layouts() else {
            return;
        };
        ui.separator();
        let mut chosen = None;
        let mut removed = None;
        for name in &self.own_layouts {
            ui.horizontal(|ui| {
                if ui.button(format!("Yours: {name}")).clicked() {
                    chosen = Some(name.clone());
                }
                if self.wall == Wall::Off
                    && ui
                        .small_button("remove")
                        .on_hover_text(format!("Remove your layout {name}"))
                        .clicked()
                {
                    removed = Some(name.clone());
                }
            });
        }
        if let Some(name) = removed {
            match layout::remove_named(&dir, &name) {
                Ok(()) => self.own_layouts.retain(|n| *n != name),
                Err(e) => self.message = Some((e, Instant::now())),
            }
        }
        if let Some(name) = chosen {
            self.apply_preset(&name);
            ui.close();
        }
        if self.wall != Wall::Off {
            return;
        }
        ui.horizontal(|ui| {
            let label = ui.label("Save as");
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.layout_name)
                        .hint_text("name")
                        .desired_width(120.0),
                )
                .labelled_by(label.id);
            let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let check = layout::check_name(self.layout_name.trim());
            let save = ui.add_enabled(check.is_ok(), egui::Button::new("Save"));
            let save = match &check {
                Err(e) if !self.layout_name.is_empty() => save.on_disabled_hover_text(e),
                _ => save,
            };
            if save.clicked() || (enter && check.is_ok()) {
                let name = self.layout_name.trim().to_owned();
                if let Err(e) = self.save_layout_as(&name) {
                    self.message = Some((e, Instant::now()));
                }
                self.layout_name.clear();
                ui.close();
            }
        });
    }

    /// F1: the keyboard shortcuts, and what this console can do.
    fn help_ui(&mut self, ui: &mut egui::Ui, area: egui::Rect) {
        let mut open = self.show_help;
        let acting = self.wall == Wall::Off && self.engine.read_only().is_none();
        egui::Window::new("Keyboard shortcuts")
            .id(egui::Id::unique("help-overlay"))
            .open(&mut open)
            .constrain_to(area)
            .collapsible(false)
            .show(ui.ctx(), |ui| {
                egui::Grid::new("shortcuts")
                    .num_columns(2)
                    .spacing([16.0, 4.0])
                    .show(ui, |ui| {
                        let mut row = |keys: &str, what: &str| {
                            ui.label(RichText::new(keys).monospace().strong());
                            ui.label(what);
                            ui.end_row();
                        };
                        row("F1", "this help");
                        row(
                            "F12",
                            "export the view as a PNG (data directory, screenshots/)",
                        );
                        row(
                            "Ctrl+F",
                            "find a service, instance, breaker, cluster or database",
                        );
                        if self.wall == Wall::Off {
                            row(
                                "Ctrl+K",
                                "command palette: every view, layout and command, and every workflow on every target",
                            );
                        }
                        if acting {
                            row("Ctrl+N", "a note pinned to now and the selected thing");
                            row("Enter", "in the palette: plan the first match");
                        }
                        row("Esc", "close a menu or a dialog");
                        row(
                            "Right-click",
                            "on an instance, a service or a database member: what can act on it",
                        );
                        row(
                            "Scroll / drag",
                            "on the topology: zoom and pan; Fit to see it all",
                        );
                    });
                if !acting {
                    ui.separator();
                    ui.weak("This console is read-only: nothing can act from it.");
                }
            });
        self.show_help = open;
    }

    fn about_ui(&mut self, ui: &mut egui::Ui) {
        let mut open = self.show_about;
        egui::Window::new("About Switchboard")
            .open(&mut open)
            .collapsible(false)
            .show(ui.ctx(), |ui| {
                ui.label(format!("Switchboard {}", env!("CARGO_PKG_VERSION")));
                ui.label("An incident console for on-call engineers.");
                ui.separator();
                let data = self
                    .data_dir
                    .as_ref()
                    .map_or_else(|| "(none)".to_owned(), |d| d.display().to_string());
                ui.label(format!("Data directory: {data}"));
                if let Some(nb) = &self.notebook {
                    ui.label(format!("Notes and incidents: {}", nb.path().display()));
                }
                if let Some(p) = self.engine.recording() {
                    ui.label(format!("Session file: {}", p.display()));
                }
                if let Some(p) = &self.layout_file {
                    ui.label(format!("Layout file: {}", p.display()));
                }
            });
        self.show_about = open;
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

struct Behavior<'a, 'b> {
    ctx: &'a PanelCtx<'b>,
    freshness: &'a [(Pane, panels::Freshness)],
    topology: &'a mut TopologyView,
    breakers: &'a mut BreakersView,
    backends: &'a mut BackendsView,
    metrics: &'a mut MetricsView,
    events: &'a mut EventsView,
    desk: Option<&'a Desk>,
    workflows: &'a mut WorkflowsView,
    incidents: &'a mut IncidentsView,
    notebook: Option<&'a mut notebook::Notebook>,
    edited: bool,
}

impl Behavior<'_, '_> {
    /// The freshness of a pane's sources (none for local panes).
    fn fresh(&self, pane: Pane) -> Option<&panels::Freshness> {
        self.freshness
            .iter()
            .find(|(p, _)| *p == pane)
            .map(|(_, f)| f)
    }
}

impl egui_tiles::Behavior<Pane> for Behavior<'_, '_> {
    fn pane_ui(
        &mut self,
        ui: &mut egui::Ui,
        _tile: egui_tiles::TileId,
        pane: &mut Pane,
    ) -> egui_tiles::UiResponse {
        let stopped = self
            .fresh(*pane)
            .is_some_and(panels::Freshness::all_stopped);
        let frame = egui::Frame::new().inner_margin(4.0);
        // Every source behind this tile stopped: the whole tile is framed grey.
        let frame = if stopped {
            frame.stroke(egui::Stroke::new(2.0, theme::STALE))
        } else {
            frame
        };
        frame.show(ui, |ui| match pane {
                Pane::Topology => panels::topology_ui(ui, self.ctx, self.topology),
                Pane::Breakers => panels::breakers_ui(ui, self.ctx, self.breakers),
                Pane::Quorum => panels::quorum_ui(ui, self.ctx),
                Pane::Events => panels::events_ui(ui, self.ctx, self.events),
                Pane::Incidents => panels::incidents_ui(
                    ui,
                    self.ctx,
                    self.incidents,
                    self.notebook.as_deref_mut(),
                ),
                Pane::Backends => panels::backends_ui(ui, self.ctx, self.backends),
                Pane::Metrics => panels::metrics_ui(ui, self.ctx, self.metrics),
                Pane::Databases => panels::databases_ui(ui, self.ctx),
                Pane::Workflows => match self.desk {
                    Some(desk) => panels::journal_ui(ui, desk, self.workflows),
                    None => {
                        ui.weak("This console runs no workflows (replay, or no data directory for the journal).");
                    }
                },
            });
        egui_tiles::UiResponse::None
    }

    fn tab_title_for_pane(&mut self, pane: &Pane) -> egui::WidgetText {
        match self.fresh(*pane) {
            Some(f) if f.stopped > 0 => RichText::new(format!("{} · {}", pane.title(), f.cue()))
                .color(theme::STALE)
                .into(),
            _ => pane.title().into(),
        }
    }

    fn top_bar_right_ui(
        &mut self,
        tiles: &egui_tiles::Tiles<Pane>,
        ui: &mut egui::Ui,
        _tile_id: egui_tiles::TileId,
        tabs: &egui_tiles::Tabs,
        _scroll_offset: &mut f32,
    ) {
        if let Some(egui_tiles::Tile::Pane(pane)) = tabs.active.and_then(|id| tiles.get(id))
            && let Some(f) = self.fresh(*pane)
        {
            ui.add_space(6.0);
            panels::freshness_cue_ui(ui, f);
        }
    }

    fn on_edit(&mut self, _action: egui_tiles::EditAction) {
        self.edited = true;
    }

    fn simplification_options(&self) -> egui_tiles::SimplificationOptions {
        egui_tiles::SimplificationOptions {
            all_panes_must_have_tabs: true,
            ..Default::default()
        }
    }
}

/// The toasts on screen, each with when it came.
type Toasts = Vec<(std::sync::Arc<switchboard_core::LogEntry>, Instant)>;

/// Takes a log entry newer than every toast: news (a critical entry, an incident's
/// recovery) becomes a toast. News or a good turn of a subject ends that subject's
/// toast (a breaker that closed again, a quorum that healed, an incident recovered),
/// so a sped-up drill or a quick flap never leaves a toast saying what is no longer
/// true. Routine entries about it (a replica count, "no leader") do not.
fn toast_news(toasts: &mut Toasts, e: std::sync::Arc<switchboard_core::LogEntry>, now: Instant) {
    use switchboard_core::Severity;
    let good = e.severity == Severity::Good;
    let news = e.severity == Severity::Critical || (good && e.subject.starts_with("incident"));
    if news || good {
        toasts.retain(|(t, _)| t.subject != e.subject);
    }
    if news {
        toasts.push((e, now));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use switchboard_core::{LogEntry, Severity, Timestamp};

    use super::{Instant, Toasts, toast_news};

    fn entry(severity: Severity, subject: &str, message: &str) -> Arc<LogEntry> {
        Arc::new(LogEntry {
            at: Timestamp(0),
            source: switchboard_core::model::SourceId::new("test"),
            severity,
            subject: subject.into(),
            message: message.into(),
        })
    }

    fn shown(t: &Toasts) -> Vec<&str> {
        t.iter().map(|(e, _)| e.message.as_str()).collect()
    }

    #[test]
    fn news_is_a_toast_until_the_subject_turns_good_not_before() {
        let mut t = Toasts::new();
        let now = Instant::now();
        toast_news(
            &mut t,
            entry(Severity::Critical, "pg", "no reachable primary"),
            now,
        );
        // Patroni's next lines about the same cluster in the same poll.
        toast_news(
            &mut t,
            entry(Severity::Info, "pg", "the DCS names no leader"),
            now,
        );
        toast_news(&mut t, entry(Severity::Warn, "pg", "1 of 3 ready"), now);
        assert_eq!(shown(&t), ["no reachable primary"], "routine lines keep it");
        toast_news(
            &mut t,
            entry(Severity::Critical, "incident #4", "opened"),
            now,
        );
        toast_news(&mut t, entry(Severity::Good, "pg", "primary pg-2"), now);
        assert_eq!(shown(&t), ["opened"], "a good turn of pg ends its toast");
        toast_news(
            &mut t,
            entry(Severity::Good, "incident #4", "recovered"),
            now,
        );
        assert_eq!(
            shown(&t),
            ["recovered"],
            "the recovery replaces the opening"
        );
    }
}
