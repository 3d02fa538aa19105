//! The replay bar: play/pause, speed, jumps to the next or previous moment worth
//! seeing, and a scrubber over the whole session with those moments as marks. The
//! file's check (every keyframe's fingerprint against the replay) is shown beside it.

use egui::{Color32, RichText};
use switchboard_core::Timestamp;
use switchboard_core::player::{Player, PlayerCmd, PlayerStatus};
use switchboard_core::session::replay::MarkKind;

use crate::theme::{self, clock_time};

/// The replay bar's state.
#[derive(Default)]
pub struct ReplayView {
    /// Jumps go to marks of this kind (`None`: any).
    jump_kind: Option<MarkKind>,
}

fn mark_color(k: MarkKind) -> Color32 {
    match k {
        MarkKind::Incident => theme::BAD,
        MarkKind::Flip => theme::WARN,
        MarkKind::Leader => theme::INFO,
        MarkKind::Action => theme::DRILL,
        MarkKind::Warning => theme::STALE,
        MarkKind::Note => theme::GOOD,
        MarkKind::Workflow => theme::SPLIT,
    }
}

fn kind_name(k: Option<MarkKind>) -> &'static str {
    match k {
        None => "anything",
        Some(MarkKind::Incident) => "incident",
        Some(MarkKind::Flip) => "breaker flip",
        Some(MarkKind::Leader) => "leader change",
        Some(MarkKind::Action) => "operator action",
        Some(MarkKind::Warning) => "warning",
        Some(MarkKind::Note) => "note",
        Some(MarkKind::Workflow) => "workflow step",
    }
}

fn offset(secs: i64) -> String {
    switchboard_core::store::clock(secs)
}

/// Draws the replay bar.
pub fn replay_bar_ui(ui: &mut egui::Ui, player: &Player, st: &PlayerStatus, view: &mut ReplayView) {
    let Some((first, last)) = st.span else {
        ui.colored_label(
            theme::WARN,
            format!("REPLAY of {}: the session holds no events", st.file),
        );
        return;
    };
    ui.horizontal(|ui| {
        ui.label(
            RichText::new(" REPLAY ")
                .strong()
                .color(Color32::BLACK)
                .background_color(theme::INFO),
        );
        let play = if st.playing { "Pause" } else { "Play" };
        if ui.button(play).clicked() {
            player.send(PlayerCmd::Play(!st.playing));
        }
        for x in [1.0, 10.0, 60.0] {
            if ui
                .selectable_label((st.speed - x).abs() < f64::EPSILON, format!("x{x:.0}"))
                .clicked()
            {
                player.send(PlayerCmd::Speed(x));
            }
        }
        ui.separator();
        if ui.button("Start").clicked() {
            player.send(PlayerCmd::Seek(first));
        }
        if ui.button("End").clicked() {
            player.send(PlayerCmd::Seek(last));
        }
        if ui.button("Previous").clicked() {
            player.send(PlayerCmd::Previous(view.jump_kind));
        }
        let label = ui.weak("jumps to");
        egui::ComboBox::from_id_salt("replay-jump-kind")
            .selected_text(kind_name(view.jump_kind))
            .width(130.0)
            .show_ui(ui, |ui| {
                for k in [
                    None,
                    Some(MarkKind::Incident),
                    Some(MarkKind::Flip),
                    Some(MarkKind::Leader),
                    Some(MarkKind::Action),
                    Some(MarkKind::Workflow),
                    Some(MarkKind::Note),
                    Some(MarkKind::Warning),
                ] {
                    ui.selectable_value(&mut view.jump_kind, k, kind_name(k));
                }
            })
            .response
            .labelled_by(label.id);
        if ui.button("Next").clicked() {
            player.send(PlayerCmd::Next(view.jump_kind));
        }
        ui.separator();
        ui.label(
            RichText::new(format!(
                "{} UTC · {} of {}",
                clock_time(st.at),
                offset(st.at.millis_since(first) / 1000),
                offset(last.millis_since(first) / 1000)
            ))
            .monospace(),
        );
        ui.weak(format!("event {} of {}", st.seq, st.last_seq));
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            check_ui(ui, st);
        });
    });
    scrubber_ui(ui, player, st, first, last);
}

fn check_ui(ui: &mut egui::Ui, st: &PlayerStatus) {
    match &st.verification {
        None => {
            ui.weak(format!("checking the file… {:.0} %", st.indexed * 100.0));
        }
        Some(v) if v.ok() && v.checked > 0 => {
            ui.colored_label(
                theme::GOOD,
                format!(
                    "replay matches the recording: {} of {} keyframes",
                    v.matched, v.checked
                ),
            );
        }
        Some(v) if v.ok() => {
            ui.weak("no keyframes to check against");
        }
        Some(v) => {
            ui.colored_label(
                theme::BAD,
                format!("{} of {} keyframes match", v.matched, v.checked),
            );
        }
    }
    if !st.warnings.is_empty() {
        ui.colored_label(theme::WARN, format!("{} warning(s)", st.warnings.len()))
            .on_hover_text(st.warnings.join("\n"));
    }
}

fn scrubber_ui(
    ui: &mut egui::Ui,
    player: &Player,
    st: &PlayerStatus,
    first: Timestamp,
    last: Timestamp,
) {
    let (rect, response) = ui.allocate_exact_size(
        egui::vec2(ui.available_width(), 26.0),
        egui::Sense::click_and_drag(),
    );
    let painter = ui.painter_at(rect);
    let span = (last.0 - first.0).max(1) as f32;
    let x =
        |t: Timestamp| rect.left() + rect.width() * ((t.0 - first.0) as f32 / span).clamp(0.0, 1.0);
    let track = egui::Rect::from_min_max(
        egui::pos2(rect.left(), rect.center().y - 3.0),
        egui::pos2(rect.right(), rect.center().y + 3.0),
    );
    painter.rect_filled(track, 3.0, ui.visuals().extreme_bg_color);
    // Read so far (while the file is checked).
    if st.indexed < 1.0 {
        let mut done = track;
        done.set_right(track.left() + track.width() * st.indexed as f32);
        painter.rect_filled(done, 3.0, theme::STALE.gamma_multiply(0.5));
    }
    for m in st.marks.iter() {
        let px = x(m.at);
        let h = if m.kind == MarkKind::Warning {
            5.0
        } else {
            10.0
        };
        painter.line_segment(
            [
                egui::pos2(px, rect.center().y - h),
                egui::pos2(px, rect.center().y + h),
            ],
            egui::Stroke::new(2.0, mark_color(m.kind)),
        );
    }
    let head = x(st.at);
    painter.line_segment(
        [
            egui::pos2(head, rect.top()),
            egui::pos2(head, rect.bottom()),
        ],
        egui::Stroke::new(2.5, ui.visuals().strong_text_color()),
    );
    let at_pointer = |p: egui::Pos2| {
        Timestamp(first.0 + (((p.x - rect.left()) / rect.width()).clamp(0.0, 1.0) * span) as i64)
    };
    if let Some(p) = response.hover_pos() {
        let t = at_pointer(p);
        let near = st
            .marks
            .iter()
            .filter(|m| (x(m.at) - p.x).abs() < 4.0)
            .take(3)
            .map(|m| format!("{} {}", clock_time(m.at), m.text))
            .collect::<Vec<_>>();
        let text = if near.is_empty() {
            format!("{} UTC", clock_time(t))
        } else {
            near.join("\n")
        };
        response.clone().on_hover_text_at_pointer(text);
    }
    if (response.clicked() || response.drag_stopped())
        && let Some(p) = response.interact_pointer_pos()
    {
        player.send(PlayerCmd::Seek(at_pointer(p)));
    }
}
