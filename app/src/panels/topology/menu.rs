//! The map's context menu: the workflows offered for what was right-clicked.

use super::super::{PanelCtx, UiCommand};

/// The workflows for what was right-clicked: an instance's own (by its address), a
/// service's servers' (an HAProxy backend of that name).
pub(super) fn context_menu_ui(
    ui: &mut egui::Ui,
    ctx: &PanelCtx<'_>,
    what: Option<&(bool, String)>,
) {
    if ctx.read_only {
        if let Some((_, name)) = what {
            ui.label(egui::RichText::new(name.as_str()).strong());
            if ui.button("Select").clicked() {
                ctx.push(UiCommand::Select(Some(name.clone())));
                ui.close();
            }
        }
        ui.weak("Read-only: nothing can act from here.");
        return;
    }
    let Some((instance, name)) = what else {
        if ui.button("Actions… (Ctrl+K)").clicked() {
            ctx.push(UiCommand::Palette);
            ui.close();
        }
        return;
    };
    ui.label(egui::RichText::new(name.as_str()).strong());
    ui.separator();
    let backend = format!("/{name}/");
    let mut any = false;
    for o in ctx.offers.iter().filter(|o| {
        if *instance {
            o.instance.as_deref() == Some(name.as_str())
        } else {
            o.target.contains(&backend)
        }
    }) {
        any = true;
        if ui
            .button(format!("{}…", o.label))
            .on_hover_text(o.kind.describe())
            .clicked()
        {
            ctx.push(UiCommand::Plan(o.kind, o.target.clone()));
            ui.close();
        }
    }
    if !any {
        ui.weak("No workflow acts on this here.");
    }
    if ui.button("Select").clicked() {
        ctx.push(UiCommand::Select(Some(name.clone())));
        ui.close();
    }
    if ui.button("All actions… (Ctrl+K)").clicked() {
        ctx.push(UiCommand::Palette);
        ui.close();
    }
}
