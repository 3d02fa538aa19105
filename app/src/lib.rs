//! # switchboard (the app)
//!
//! The native console on top of `switchboard-core`: an eframe window with dockable
//! panels (`egui_tiles`), and the CLI (`main.rs`). The window never waits on I/O: each
//! frame reads the engine's latest `Arc<State>` snapshot, and the engine wakes the
//! window only when a new snapshot exists, so an idle console draws nothing.
//!
//! One intent path: panels read the frame's snapshot and push
//! [`panels::UiCommand`]s; the console applies them after the frame, in one place;
//! whatever touches a file or waits runs as a job whose answer comes back on one
//! queue ([`background::Jobs`]) that each frame drains for a few milliseconds.
//!
//! - [`Console`] (`console/`): the window's content; [`Console::ui`] draws one frame;
//!   beside it the commands and job answers it applies, the menus, toasts, help and
//!   the tiles behaviour.
//! - `panels`: one function per panel, reading a [`panels::PanelCtx`].
//! - `background`: the job queue.
//! - `notebook`: the incident store's thread; `session_files`, `png_export`: files.
//! - `layout`: presets from `layouts/` and the saved layout.
//! - `theme`: the colour-blind-safe palette, glyphs and formatting.

pub mod background;
mod console;
pub mod layout;
pub mod notebook;
pub mod palette;
pub mod panels;
pub mod png_export;
pub mod rotation;
pub mod session_files;
pub mod theme;

pub use self::console::{Console, ConsoleOptions, WALL_TICK};
