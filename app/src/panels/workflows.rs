//! Workflows in the window: the command palette (Ctrl+K) listing what can be done here,
//! the wizard of one job (plan with every guard green or red, overrides with a reason,
//! typed confirmation, progress per journaled step, cancel, the report), the safety
//! valve in the top bar, and the journal pane (what ran, when, by whom, each step).
//!
//! Everything here reads copies the core's [`Desk`] keeps and pushes
//! [`UiCommand::Desk`] commands, which the console applies after the frame; planning and
//! running happen on the desk's own runtime, never on the UI thread. Ages of plans,
//! offers and runs are measured from `desk_now`, the frame's reading of the clock the
//! desk stamps them with (the fixed test clock when one is set).

use egui::{Color32, RichText};
use switchboard_core::Timestamp;
use switchboard_core::workflow::desk::{Desk, Job, Phase};
use switchboard_core::workflow::{OVERRIDABLE, Plan, StepRow};

use super::{DeskCommand, PanelCtx, UiCommand};
use crate::theme::{self, Glyph, badge, format_age};

/// The palette's and wizard's state between frames.
#[derive(Debug, Default)]
pub struct WorkflowsView {
    /// The palette is open.
    pub palette: bool,
    /// The palette's filter text.
    pub filter: String,
    /// The job shown in the wizard.
    pub focus: Option<u64>,
    /// What the operator typed to confirm.
    pub typed: String,
    /// The guard being overridden, and why.
    pub override_guard: Option<String>,
    /// The override's reason.
    pub override_reason: String,
    /// The last refusal from the desk, for the wizard.
    pub error: Option<String>,
    /// The confirmation field was given the keyboard once.
    confirm_focused: bool,
    /// The second approver's name, where the environment requires one.
    pub approver: String,
}

impl WorkflowsView {
    /// Shows job `id` in the wizard, fresh.
    pub fn focus(&mut self, id: u64) {
        self.focus = Some(id);
        self.typed.clear();
        self.override_guard = None;
        self.override_reason.clear();
        self.error = None;
        self.confirm_focused = false;
        self.approver.clear();
    }
}

fn outcome_color(outcome: &str) -> Color32 {
    match outcome {
        "ok" | "done" | "overridden" => theme::GOOD,
        "pending" | "running" => theme::INFO,
        "cancelled" | "rolled_back" => theme::WARN,
        _ => theme::BAD,
    }
}

/// The safety valve and the palette button, for the top bar (always visible).
pub fn valve_ui(ui: &mut egui::Ui, ctx: &PanelCtx<'_>, desk: &Desk) {
    let running = desk.running();
    if desk.valve_pulled() {
        let b = egui::Button::new(
            RichText::new(if running > 0 {
                format!("VALVE PULLED · {running} stopping")
            } else {
                "VALVE PULLED · reset".to_owned()
            })
            .strong()
            .color(Color32::BLACK),
        )
        .fill(theme::WARN);
        if ui
            .add(b)
            .on_hover_text(
                "Every run stopped before its next step; nothing new starts until you reset it.",
            )
            .clicked()
            && running == 0
        {
            ctx.push(UiCommand::Desk(DeskCommand::ResetValve));
        }
    } else {
        let label = if running > 0 {
            format!("STOP ALL ({running} running)")
        } else {
            "STOP ALL".to_owned()
        };
        let b = egui::Button::new(RichText::new(label).strong().color(Color32::WHITE)).fill(
            if running > 0 {
                theme::BAD
            } else {
                Color32::from_rgb(120, 50, 20)
            },
        );
        if ui
            .add(b)
            .on_hover_text("Safety valve: stop every running workflow before its next step, and refuse new ones until reset.")
            .clicked()
        {
            ctx.push(UiCommand::Desk(DeskCommand::PullValve));
        }
    }
    if ui
        .button("Actions…")
        .on_hover_text(
            "Command palette (Ctrl+K): every view, and every workflow you can start here",
        )
        .clicked()
    {
        ctx.push(UiCommand::Palette);
    }
}

/// The command palette: type to filter; the console's own `commands` (views, layouts,
/// theme, export…) first, then every workflow the desk offers here. A click or Enter on
/// the first match picks it: a workflow is planned (and shown in the wizard), a
/// command is returned for the console to carry out.
pub fn palette_ui<T: Clone>(
    ctx: &egui::Context,
    area: egui::Rect,
    pctx: &PanelCtx<'_>,
    desk_now: Timestamp,
    desk: Option<&Desk>,
    view: &mut WorkflowsView,
    commands: &[(String, T)],
) -> Option<T> {
    if !view.palette {
        return None;
    }
    let mut open = true;
    let mut chosen = None;
    let mut command = None;
    egui::Window::new("Command palette")
        .open(&mut open)
        .collapsible(false)
        .default_width(560.0)
        .constrain_to(area)
        .pivot(egui::Align2::CENTER_TOP)
        .default_pos(egui::pos2(area.center().x, area.top() + 24.0))
        .show(ctx, |ui| {
            let edit = ui.add(
                egui::TextEdit::singleline(&mut view.filter)
                    .hint_text("type to filter: drain web1, fence db2, show quorum, light…")
                    .desired_width(f32::INFINITY),
            );
            edit.request_focus();
            let enter = ui.input(|i| i.key_pressed(egui::Key::Enter));
            let words: Vec<String> = view
                .filter
                .to_lowercase()
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            let hit = |label: &str| {
                let l = label.to_lowercase();
                words.iter().all(|w| l.contains(w.as_str()))
            };
            // The console's commands come up as soon as a word is typed; before that the
            // list is the workflows, as an operator reaching for an action expects.
            let views: Vec<_> = if words.is_empty() {
                Vec::new()
            } else {
                commands.iter().filter(|(l, _)| hit(l)).collect()
            };
            let offers = desk.map(Desk::offers);
            let matching: Vec<_> = offers
                .iter()
                .flat_map(|o| o.offers.iter())
                .filter(|o| hit(&o.label))
                .collect();
            if let (Some(desk), Some(offers)) = (desk, &offers) {
                ui.horizontal(|ui| {
                    if offers.loading {
                        ui.spinner();
                        ui.weak("reading the targets…");
                    } else if let Some(at) = offers.at {
                        ui.weak(format!(
                            "{} of {} actions · read {} ago",
                            matching.len(),
                            offers.offers.len(),
                            format_age(desk_now.millis_since(at).max(0) as f64 / 1000.0)
                        ));
                    }
                    if ui.small_button("Re-read").clicked() {
                        pctx.push(UiCommand::Desk(DeskCommand::RefreshOffers));
                    }
                });
                for e in &offers.errors {
                    ui.colored_label(theme::BAD, format!("cannot read: {e}"));
                }
                if desk.read_only() {
                    ui.colored_label(
                        theme::WARN,
                        "This console is read-only: plans show their guards, nothing can run.",
                    );
                }
            }
            ui.separator();
            egui::ScrollArea::vertical()
                .max_height(360.0)
                .show(ui, |ui| {
                    let first = !words.is_empty();
                    if !first && !commands.is_empty() {
                        ui.weak("Views and commands too: type show, layout, theme, export, find, note…");
                    }
                    for (i, (label, cmd)) in views.iter().enumerate() {
                        if ui.selectable_label(first && i == 0, label.as_str()).clicked()
                            || (i == 0 && enter)
                        {
                            command = Some(cmd.clone());
                        }
                    }
                    if !views.is_empty() && !matching.is_empty() {
                        ui.separator();
                    }
                    let (Some(desk), Some(offers)) = (desk, &offers) else {
                        return;
                    };
                    if matching.is_empty() && !offers.loading {
                        let drill = desk
                            .environment()
                            .source
                            .iter()
                            .any(|s| matches!(s, switchboard_core::SourceConfig::Drill(_)));
                        ui.weak(if !offers.offers.is_empty() {
                            "No workflow matches."
                        } else if drill {
                            "DRILL: the simulated fleet has no workflow targets yet. Workflows act on real HAProxy servers (runtime `socket`), Patroni clusters and fence devices; see the README to point the console at them."
                        } else {
                            "Nothing to act on in this environment: no HAProxy source with a runtime `socket`, no Patroni source, no fence device."
                        });
                    }
                    for (i, o) in matching.iter().enumerate() {
                        if ui
                            .selectable_label(first && views.is_empty() && i == 0, &o.label)
                            .on_hover_text(o.kind.describe())
                            .clicked()
                            || (i == 0 && enter && views.is_empty())
                        {
                            chosen = Some((o.kind, o.target.clone()));
                        }
                    }
                });
        });
    if ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
        open = false;
    }
    if let (Some((kind, target)), Some(_)) = (chosen, desk) {
        pctx.push(UiCommand::Plan(kind, target));
        open = false;
    }
    if command.is_some() {
        open = false;
    }
    view.palette = open;
    command
}

/// The wizard of the focused job.
pub fn wizard_ui(
    ctx: &egui::Context,
    area: egui::Rect,
    pctx: &PanelCtx<'_>,
    desk_now: Timestamp,
    desk: &Desk,
    view: &mut WorkflowsView,
) {
    let Some(id) = view.focus else { return };
    let Some(job) = desk.job(id) else {
        view.focus = None;
        return;
    };
    let mut open = true;
    let title = format!("{} {}", job.kind.as_str(), job.target);
    egui::Window::new(RichText::new(&title).strong())
        .id(egui::Id::unique(("workflow-wizard", id)))
        .open(&mut open)
        .collapsible(false)
        .default_width(620.0)
        .constrain_to(area)
        .default_pos(area.left_top() + egui::vec2(24.0, 24.0))
        .show(ctx, |ui| match &job.phase {
            Phase::Planning => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Reading the target and every guard…");
                });
            }
            Phase::Planned(plan) => planned_ui(ui, pctx, desk_now, desk, view, &job, plan),
            Phase::Running(plan) => running_ui(ui, pctx, &job, plan),
            Phase::Finished(plan, report) => {
                plan_head_ui(ui, plan);
                steps_ui(ui, &job.control.rows());
                ui.separator();
                ui.horizontal(|ui| {
                    ui.label(RichText::new("Outcome").strong());
                    ui.label(
                        RichText::new(report.outcome.to_uppercase())
                            .strong()
                            .color(outcome_color(&report.outcome)),
                    );
                    if let Some(ms) = report.effect_millis {
                        ui.weak(format!("{ms} ms from confirmation to effect"));
                    }
                    ui.weak(format!("journal run #{}", report.run));
                });
                for l in &report.lines {
                    let c = if l.starts_with("WARNING") || l.contains("FAILED") {
                        theme::BAD
                    } else {
                        ui.visuals().text_color()
                    };
                    ui.colored_label(c, l);
                }
                if ui.button("Close").clicked() {
                    pctx.push(UiCommand::Desk(DeskCommand::Dismiss(id)));
                    view.focus = None;
                }
            }
            Phase::Failed(plan, why) => {
                if let Some(p) = plan {
                    plan_head_ui(ui, p);
                    steps_ui(ui, &job.control.rows());
                }
                ui.colored_label(theme::BAD, RichText::new(why).strong());
                ui.horizontal(|ui| {
                    if ui.button("Plan again").clicked() {
                        pctx.push(UiCommand::Desk(DeskCommand::Replan(id)));
                    }
                    if ui.button("Close").clicked() {
                        pctx.push(UiCommand::Desk(DeskCommand::Dismiss(id)));
                        view.focus = None;
                    }
                });
            }
        });
    if !open {
        if !matches!(job.phase, Phase::Running(_)) {
            pctx.push(UiCommand::Desk(DeskCommand::Dismiss(id)));
        }
        view.focus = None;
    }
}

fn plan_head_ui(ui: &mut egui::Ui, plan: &Plan) {
    ui.horizontal_wrapped(|ui| {
        if plan.steps.first().is_some_and(|s| s.starts_with("DRILL")) {
            ui.label(
                RichText::new(format!(
                    "DRILL · {} practised on the simulated fleet: nothing real is touched",
                    plan.kind.as_str()
                ))
                .color(theme::DRILL)
                .strong(),
            );
        } else {
            ui.label(RichText::new(plan.kind.describe()).weak());
        }
    });
    egui::Grid::new("plan-head").num_columns(2).show(ui, |ui| {
        ui.weak("environment");
        ui.label(&plan.environment);
        ui.end_row();
        ui.weak("target now");
        ui.label(&plan.before);
        ui.end_row();
    });
    ui.label(RichText::new("Steps").strong());
    for (i, s) in plan.steps.iter().enumerate() {
        ui.label(format!("{}. {s}", i + 1));
    }
}

fn planned_ui(
    ui: &mut egui::Ui,
    pctx: &PanelCtx<'_>,
    desk_now: Timestamp,
    desk: &Desk,
    view: &mut WorkflowsView,
    job: &Job,
    plan: &Plan,
) {
    plan_head_ui(ui, plan);
    ui.add_space(4.0);
    ui.label(RichText::new("Guards").strong());
    egui::Grid::new("guards")
        .num_columns(3)
        .spacing([10.0, 4.0])
        .show(ui, |ui| {
            for g in &plan.guards {
                let overridden = plan.overridden(g.name);
                let (color, glyph, word) = if g.ok {
                    (theme::GOOD, Glyph::Circle, "PASS")
                } else if overridden {
                    (theme::WARN, Glyph::Triangle, "OVERRIDDEN")
                } else {
                    (theme::BAD, Glyph::Cross, "REFUSES")
                };
                badge(ui, color, glyph, word);
                ui.label(RichText::new(g.name).strong());
                ui.horizontal(|ui| {
                    ui.label(&g.reason);
                    if !g.ok
                        && !overridden
                        && OVERRIDABLE.contains(&g.name)
                        && ui
                            .small_button("Override…")
                            .on_hover_text("A human may decide this guard: give a reason; it is journaled with the run.")
                            .clicked()
                    {
                        view.override_guard = Some(g.name.to_owned());
                        view.override_reason.clear();
                    }
                });
                ui.end_row();
            }
        });
    if let Some(guard) = view.override_guard.clone() {
        ui.horizontal(|ui| {
            ui.label(format!("Override {guard} because:"));
            ui.add(
                egui::TextEdit::singleline(&mut view.override_reason)
                    .hint_text("the reason, journaled")
                    .desired_width(260.0),
            );
            if ui
                .add_enabled(
                    !view.override_reason.trim().is_empty(),
                    egui::Button::new("Override"),
                )
                .clicked()
            {
                pctx.push(UiCommand::Desk(DeskCommand::Override {
                    job: job.id,
                    guard,
                    reason: view.override_reason.clone(),
                }));
                view.override_guard = None;
            }
            if ui.button("Keep the guard").clicked() {
                view.override_guard = None;
            }
        });
    }
    ui.separator();
    let age = desk_now.millis_since(plan.made_at).max(0) / 1000;
    let stale = age * 1000 > switchboard_core::workflow::PLAN_TTL_MILLIS;
    if !plan.allowed() {
        ui.colored_label(
            theme::BAD,
            RichText::new("Refused: a guard says no. Nothing will be changed.").strong(),
        );
    } else if stale {
        ui.colored_label(
            theme::WARN,
            format!("This plan read the target {age} s ago; plan again before running it."),
        );
    } else {
        if desk.on_relay() {
            ui.weak(
                "Planned by the relay: it runs there, under your name, and its journal keeps it.",
            );
        }
        ui.label(format!(
            "To run it, type {} exactly (plan read {age} s ago):",
            plan.confirm_as
        ));
        let edit = ui.add(
            egui::TextEdit::singleline(&mut view.typed)
                .hint_text(plan.confirm_as.as_str())
                .desired_width(260.0),
        );
        if !view.confirm_focused {
            edit.request_focus();
            view.confirm_focused = true;
        }
        if desk.needs_approver() {
            ui.horizontal(|ui| {
                ui.label("Second approver (required here):");
                if ui
                    .add(
                        egui::TextEdit::singleline(&mut view.approver)
                            .hint_text("their name")
                            .desired_width(160.0),
                    )
                    .changed()
                {
                    pctx.push(UiCommand::Desk(DeskCommand::Approve {
                        job: job.id,
                        name: view.approver.clone(),
                    }));
                }
            });
        }
        let matches = view.typed == plan.confirm_as;
        let submit = matches && edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        ui.horizontal(|ui| {
            let run = egui::Button::new(
                RichText::new(format!("Run {}", plan.kind.as_str()))
                    .strong()
                    .color(Color32::WHITE),
            )
            .fill(if matches {
                theme::BAD
            } else {
                Color32::DARK_GRAY
            });
            if ui.add_enabled(matches, run).clicked() || submit {
                pctx.push(UiCommand::Desk(DeskCommand::Confirm {
                    job: job.id,
                    typed: view.typed.clone(),
                }));
            }
            if !matches && !view.typed.is_empty() {
                ui.colored_label(theme::WARN, "does not match");
            }
        });
    }
    ui.horizontal(|ui| {
        if ui.button("Plan again").clicked() {
            pctx.push(UiCommand::Desk(DeskCommand::Replan(job.id)));
        }
    });
    if let Some(e) = &view.error {
        ui.colored_label(theme::BAD, e);
    }
}

fn running_ui(ui: &mut egui::Ui, pctx: &PanelCtx<'_>, job: &Job, plan: &Plan) {
    plan_head_ui(ui, plan);
    ui.separator();
    let rows = job.control.rows();
    let done = rows
        .iter()
        .filter(|r| r.phase != "before" && r.phase != "guards")
        .count();
    let total = (plan.steps.len() * 2).max(done + 1);
    ui.horizontal(|ui| {
        ui.spinner();
        ui.add(
            egui::ProgressBar::new(done as f32 / total as f32)
                .desired_width(300.0)
                .text(format!("running · {} journal row(s)", rows.len())),
        );
        if ui
            .button("Cancel")
            .on_hover_text("Stop before the next step (a step under way finishes)")
            .clicked()
        {
            pctx.push(UiCommand::Desk(DeskCommand::Cancel(job.id)));
        }
    });
    let waiting = job.control.waiting();
    if !waiting.is_empty() {
        egui::Frame::group(ui.style()).show(ui, |ui| {
            // An experiment asks a human about its recovery (stop the countdown, or run
            // the runbook); a runbook asks for its manual step.
            let game_day = job.kind == switchboard_core::workflow::Kind::Experiment;
            let (head, button) = if game_day {
                (
                    "GAME DAY: the experiment asks",
                    "Acknowledge: recovery by hand",
                )
            } else {
                (
                    "MANUAL STEP: the runbook waits for you",
                    "Done: continue the runbook",
                )
            };
            ui.colored_label(theme::WARN, RichText::new(head).strong());
            ui.label(&waiting);
            if ui.button(RichText::new(button).strong()).clicked() {
                pctx.push(UiCommand::Desk(DeskCommand::Acknowledge(job.id)));
            }
        });
    }
    steps_ui(ui, &rows);
}

fn steps_ui(ui: &mut egui::Ui, rows: &[StepRow]) {
    if rows.is_empty() {
        return;
    }
    ui.label(RichText::new("Journal").strong());
    egui::Grid::new("steps")
        .num_columns(4)
        .spacing([10.0, 2.0])
        .show(ui, |ui| {
            for r in rows {
                ui.weak(theme::clock_time(r.at));
                ui.weak(&r.phase);
                ui.label(&r.action);
                ui.horizontal(|ui| {
                    ui.colored_label(outcome_color(&r.outcome), &r.outcome);
                    if r.phase == "guards" {
                        // A line per guard: on hover, so the step list stays one line each.
                        ui.weak(format!("{} guard(s)", r.detail.lines().count()))
                            .on_hover_text(&r.detail);
                    } else if !r.detail.is_empty() {
                        ui.weak(&r.detail);
                    }
                });
                ui.end_row();
            }
        });
}

/// The journal pane: this console's jobs under way, then the journal's latest runs.
pub fn journal_ui(
    ui: &mut egui::Ui,
    ctx: &PanelCtx<'_>,
    desk_now: Timestamp,
    desk: &Desk,
    view: &mut WorkflowsView,
) {
    ui.horizontal(|ui| {
        ui.label(RichText::new("Workflows").strong());
        ui.weak(format!("env {}", desk.environment().name));
        if ui.small_button("Actions…").clicked() {
            ctx.push(UiCommand::Palette);
        }
        if ui.small_button("Refresh").clicked() {
            ctx.push(UiCommand::Desk(DeskCommand::RefreshHistory));
        }
    });
    let jobs = desk.jobs();
    for j in jobs
        .iter()
        .filter(|j| !matches!(j.phase, Phase::Finished(..)))
    {
        ui.horizontal(|ui| {
            let (c, w) = match &j.phase {
                Phase::Planning => (theme::INFO, "planning"),
                Phase::Planned(p) if p.allowed() => (theme::INFO, "awaiting confirmation"),
                Phase::Planned(_) => (theme::BAD, "refused"),
                Phase::Running(_) => (theme::WARN, "RUNNING"),
                Phase::Finished(..) => (theme::GOOD, "finished"),
                Phase::Failed(..) => (theme::BAD, "failed"),
            };
            ui.colored_label(c, w);
            if ui
                .link(format!("{} {}", j.kind.as_str(), j.target))
                .clicked()
            {
                view.focus = Some(j.id);
            }
        });
    }
    ui.separator();
    let history = desk.history();
    if history.is_empty() {
        ui.weak("No run journaled yet. Start one from Actions… (Ctrl+K) or a node's context menu.");
        return;
    }
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for (run, steps) in history.iter() {
                let interrupted = run.interrupted(desk_now);
                let outcome = if interrupted { "INTERRUPTED" } else { run.outcome.as_str() };
                let head = RichText::new(format!(
                    "#{} {} {} {} · {} · {}",
                    run.id,
                    theme::clock_time(run.started_at),
                    run.kind,
                    run.target,
                    run.operator,
                    outcome
                ))
                .color(outcome_color(outcome));
                if interrupted {
                    ui.horizontal_wrapped(|ui| {
                        ui.colored_label(
                            theme::BAD,
                            RichText::new(format!(
                                "INTERRUPTED #{} {} {}: its console died mid-run; the target may be half-changed (it was {})",
                                run.id, run.kind, run.target, run.before
                            ))
                            .strong(),
                        );
                        if ui
                            .button("Resume…")
                            .on_hover_text("Plan it again as it was (the plan re-reads the target)")
                            .clicked()
                        {
                            ctx.push(UiCommand::Desk(DeskCommand::TakeOver {
                                run: run.id,
                                rollback: false,
                            }));
                        }
                        if ui
                            .button("Roll back…")
                            .on_hover_text("Plan the inverse: back to the state it found")
                            .clicked()
                        {
                            ctx.push(UiCommand::Desk(DeskCommand::TakeOver {
                                run: run.id,
                                rollback: true,
                            }));
                        }
                    });
                }
                egui::CollapsingHeader::new(head)
                    .id_salt(("journal-run", run.id))
                    .show(ui, |ui| {
                        ui.weak(format!(
                            "environment {} · started {}",
                            run.environment,
                            run.started_at.to_rfc3339()
                        ));
                        steps_ui(ui, steps);
                    });
            }
        });
}
