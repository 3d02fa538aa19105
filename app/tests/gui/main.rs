//! GUI tests: the real console on a real engine, driven through AccessKit by
//! `egui_kittest` (no display or GPU needed). One test binary; each module holds the
//! tests of one job, and `helpers` the harness and engines they share.

#[path = "../../../core/tests/common/mod.rs"]
#[allow(dead_code)]
mod common;
mod composed;
mod dns;
mod faults;
mod faults_proxy;
mod game_day;
mod helpers;
mod incidents;
mod integrity;
mod layout;
mod panels;
mod recorder;
mod relay;
mod status_bar;
mod transport;
mod wall;
mod workflows;
