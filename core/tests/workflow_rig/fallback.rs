//! A backend falling back to its backup server (a third backend started for the test)
//! under live traffic, and restored.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use switchboard_core::workflow::{self, Kind};

use crate::common;
use crate::helpers::{Scenario, Traffic, begin, env, reset, server_stat};

/// A third backend on :9003 (HAProxy's backup `web3`) while it lives.
struct Backend3 {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Backend3 {
    fn start() -> Self {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:9003").expect("bind :9003");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        s.set_nonblocking(false).ok();
                        s.set_read_timeout(Some(Duration::from_secs(1))).ok();
                        let mut buf = [0u8; 2048];
                        let _ = s.read(&mut buf);
                        let body = "backend3\n";
                        let _ = s.write_all(
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                body.len()
                            )
                            .as_bytes(),
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Backend3 {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The backend fails over to its backup server: refused while the backup is down;
/// with it up, every active server goes to maintenance and HAProxy serves from the
/// backup alone under live traffic; restore puts them back.
#[test]
fn a_backend_falls_back_to_its_backup_server_and_is_restored() {
    let Some(Scenario {
        _one,
        rt,
        _dir,
        journal,
    }) = begin()
    else {
        return;
    };
    let env = env(false);
    let ctx = common::workflow_ctx(&env, &journal);
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Fallback, "edge/be_web"))
        .expect("plan");
    assert!(
        plan.refusals()
            .iter()
            .any(|r| r.starts_with("backup healthy: no backup server of be_web is UP (web3 DOWN")),
        "{:?}",
        plan.refusals()
    );
    let backend3 = Backend3::start();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !server_stat(&rt, "web3").0.starts_with("UP") {
        assert!(std::time::Instant::now() < deadline, "web3 never came UP");
        std::thread::sleep(Duration::from_millis(100));
    }
    let traffic = Traffic::start();
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Fallback, "edge/be_web"))
        .expect("plan");
    assert!(plan.allowed(), "{:?}", plan.refusals());
    let report = rt
        .block_on(workflow::run(&ctx, &plan, "be_web", "rig-test"))
        .expect("fallback");
    assert_eq!(report.outcome, "done", "{:?}", report.lines);
    std::thread::sleep(Duration::from_millis(300));
    let served: Vec<String> = (0..10)
        .map(|_| common::curl("http://127.0.0.1:8080/").trim().to_owned())
        .collect();
    assert!(served.iter().all(|b| b == "backend3"), "{served:?}");
    let plan = rt
        .block_on(workflow::plan(&ctx, Kind::Restore, "edge/be_web"))
        .expect("plan");
    let back = rt
        .block_on(workflow::run(&ctx, &plan, "be_web", "rig-test"))
        .expect("restore");
    std::thread::sleep(Duration::from_millis(300));
    let (ok, bad) = traffic.stop();
    eprintln!(
        "workflow rig: backend fallback to the backup {} ms after confirmation, restore {} ms; {ok} requests ok, {bad} failed",
        report.effect_millis.unwrap_or(-1),
        back.effect_millis.unwrap_or(-1)
    );
    assert_eq!(back.outcome, "done", "{:?}", back.lines);
    assert_eq!(bad, 0, "no request failed through the fallback and back");
    drop(backend3);
    reset(&rt);
}
