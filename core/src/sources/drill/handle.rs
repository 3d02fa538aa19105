//! How the workflows reach the running drill: a command channel to its task.

use tokio::sync::{mpsc, oneshot};

use super::{DrillAction, DrillView};
use crate::event::DrillFault;

/// What the drill task is asked.
#[derive(Debug)]
pub enum DrillCommand {
    /// Start a fault.
    Inject(DrillFault),
    /// An operator's action, answered with its words.
    Act(DrillAction, oneshot::Sender<Result<String, String>>),
    /// A fresh view.
    View(oneshot::Sender<DrillView>),
}

/// A handle on the running drill, for its workflows.
#[derive(Clone, Debug)]
pub struct DrillHandle(pub(crate) mpsc::Sender<DrillCommand>);

impl DrillHandle {
    /// Applies `action`; the fleet steps at once so its effect shows.
    pub async fn act(&self, action: DrillAction) -> Result<String, String> {
        let (tx, rx) = oneshot::channel();
        self.0
            .send(DrillCommand::Act(action, tx))
            .await
            .map_err(|_| "the drill is not running".to_owned())?;
        rx.await.map_err(|_| "the drill stopped".to_owned())?
    }

    /// What the fleet looks like now.
    pub async fn view(&self) -> Result<DrillView, String> {
        let (tx, rx) = oneshot::channel();
        self.0
            .send(DrillCommand::View(tx))
            .await
            .map_err(|_| "the drill is not running".to_owned())?;
        rx.await.map_err(|_| "the drill stopped".to_owned())
    }
}
