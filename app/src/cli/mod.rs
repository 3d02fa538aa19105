//! The binary's commands, one module per job: the argument definitions, what every
//! command starts from, the window, the headless engine commands, workflows, game days,
//! notes and incidents, session files, the relay. `main.rs` parses and dispatches.

pub mod args;
pub mod experiment;
pub mod headless;
pub mod notes;
pub mod serve;
pub mod session;
pub mod setup;
pub mod window;
pub mod workflow;
mod workflow_relay;
