//! `switchboard-faultproxy`: the fault-injecting proxy by hand.
//!
//! `switchboard-faultproxy --listen 127.0.0.1:45100 --upstream 127.0.0.1:8404 --fault latency:500ms`
//! forwards with the given fault; lines typed on stdin (`silence`, `pass`, `truncate:64`)
//! switch it while it runs, and every 5 s it prints its counters. `--api 127.0.0.1:8474
//! --name orders_db` also serves a control API in Toxiproxy's shape (`api.rs`).

use std::io::BufRead as _;
use std::process::ExitCode;
use std::time::Duration;

use switchboard_faultproxy::{Fault, FaultProxy};

const USAGE: &str = "usage: switchboard-faultproxy [--listen HOST:PORT] --upstream HOST:PORT [--fault FAULT]\n\
  [--api HOST:PORT [--name NAME]]  (a control API in Toxiproxy's shape)\n\
  faults: pass, latency:500ms, blackhole, silence, half_open, slowloris:100ms, garbage,\n\
  html200, truncate:64, huge, refuse. Type a fault on stdin to switch to it.";

fn main() -> ExitCode {
    let mut listen = String::from("127.0.0.1:45100");
    let mut upstream = None;
    let mut fault = Fault::Pass;
    let mut api = None;
    let mut name = String::from("switchboard");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        match (arg.as_str(), value) {
            ("--listen", Some(v)) => listen = v,
            ("--upstream", Some(v)) => upstream = Some(v),
            ("--api", Some(v)) => api = Some(v),
            ("--name", Some(v)) => name = v,
            ("--fault", Some(v)) => match v.parse() {
                Ok(f) => fault = f,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            },
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(upstream) = upstream else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let proxy = match FaultProxy::start_on(&listen, &upstream) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    proxy.set(fault);
    println!("{} -> {upstream}: {fault}", proxy.addr());
    if let Some(api) = api {
        match proxy.serve_api(&api, &name) {
            Ok(addr) => println!("control API (Toxiproxy's shape) on {addr}, proxy {name}"),
            Err(e) => {
                eprintln!("cannot serve the API on {api}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    loop {
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(line) if line.trim().is_empty() => {}
            Ok(line) => match line.trim().parse::<Fault>() {
                Ok(f) => {
                    proxy.set(f);
                    println!("fault: {f}");
                }
                Err(e) => eprintln!("{e}"),
            },
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => println!("{:?}", proxy.stats()),
            // Stdin closed (run in the background): keep serving until killed.
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(Duration::from_secs(5));
                println!("{:?}", proxy.stats());
            }
        }
    }
}
