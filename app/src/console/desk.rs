//! Applying the workflow panels' commands to the desk, after the frame: the one place
//! the window plans, confirms, cancels or overrides anything. The desk does the work on
//! its own runtime; what it refuses at once is shown in the wizard.

use switchboard_core::workflow::Kind;

use super::Console;
use crate::panels::DeskCommand;

impl Console {
    /// Plans `kind` on `target` and shows it in the wizard.
    pub(super) fn start_plan(&mut self, kind: Kind, target: &str) {
        match &self.desk {
            Some(desk) => {
                let id = desk.plan(kind, target);
                self.workflows.focus(id);
            }
            None => self.say("this console cannot run workflows"),
        }
    }

    /// Opens the palette and reads the offers fresh.
    pub(super) fn open_palette(&mut self) {
        self.workflows.palette = true;
        self.workflows.filter.clear();
        if let Some(desk) = &self.desk {
            desk.refresh_offers();
        }
    }

    /// Carries out a workflow panel's command.
    pub(super) fn apply_desk(&mut self, cmd: DeskCommand) {
        let Some(desk) = &self.desk else {
            self.say("this console cannot run workflows");
            return;
        };
        let view = &mut self.workflows;
        match cmd {
            DeskCommand::Confirm { job, typed } => view.error = desk.confirm(job, &typed).err(),
            DeskCommand::Override { job, guard, reason } => {
                view.error = desk.override_guard(job, &guard, &reason).err();
            }
            DeskCommand::Approve { job, name } => {
                // A job no longer planned has nothing to approve: the wizard shows that.
                desk.approve(job, &name).ok();
            }
            DeskCommand::Cancel(job) => desk.cancel(job),
            DeskCommand::Dismiss(job) => desk.dismiss(job),
            DeskCommand::Replan(job) => {
                if let Some(n) = desk.replan(job) {
                    view.focus(n);
                }
            }
            DeskCommand::Acknowledge(job) => {
                if let Some(j) = desk.job(job) {
                    j.control.acknowledge();
                }
            }
            DeskCommand::TakeOver { run, rollback } => desk.take_over(run, rollback),
            DeskCommand::PullValve => desk.pull_valve(),
            DeskCommand::ResetValve => desk.reset_valve(),
            DeskCommand::RefreshOffers => desk.refresh_offers(),
            DeskCommand::RefreshHistory => desk.refresh_history(),
        }
    }
}
