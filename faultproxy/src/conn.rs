//! One client connection: forged or refused by the fault in force when it arrives, or
//! forwarded to the upstream with the fault applied to every chunk as it is delivered.
//!
//! Forwarding is pipelined: a reader per direction timestamps each chunk into a small
//! queue and a writer delivers it when the fault allows (after its latency, a byte at
//! a time, not at all while silent). So latency adds to each round trip without
//! capping throughput, and a fault switched mid-connection applies to the next byte.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::{Fault, Shared, forge};

/// Bytes read at once, each way.
const CHUNK_BYTES: usize = 16 * 1024;
/// Chunks queued each way before the reader waits (TCP's own back-pressure after it).
const QUEUED_CHUNKS: usize = 64;
/// How long a connect to the upstream may take before the client is let go.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a forged answer waits for the client's request before answering anyway.
const REQUEST_WAIT: Duration = Duration::from_secs(5);

/// How one direction of a forwarded connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// The sender closed: its end was passed on (write half shut).
    Eof,
    /// Close the whole connection now (an error, a cut, a fault that forges answers).
    Abort,
    /// Drop the upstream and hold the client, unanswered, for good.
    HalfOpen,
}

/// Which way a chunk goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Way {
    /// Client to upstream (the request).
    Up,
    /// Upstream to client (the answer): where slowloris and truncation apply.
    Down,
}

/// Serves one accepted client until it ends, doing what the fault says.
pub(crate) async fn serve(client: TcpStream, shared: Arc<Shared>) {
    client.set_nodelay(true).ok();
    let mut faults = shared.fault.subscribe();
    loop {
        let fault = *faults.borrow_and_update();
        match fault {
            Fault::Refuse => {
                // RST rather than FIN: what a client of a closed port sees.
                client.set_zero_linger().ok();
                return;
            }
            Fault::Garbage => return answer(client, &shared, &forge::garbage()).await,
            Fault::Html200 => return answer(client, &shared, &forge::html_login()).await,
            Fault::Huge => return endless(client, &shared).await,
            Fault::Blackhole | Fault::HalfOpen => return hold(client, &shared).await,
            Fault::Silence => {
                // Held unread until the partition heals, then served as the new fault says.
                if faults.changed().await.is_err() {
                    return;
                }
            }
            Fault::Pass | Fault::Latency(_) | Fault::Slowloris(_) | Fault::Truncate(_) => {
                return forward(client, &shared, faults).await;
            }
        }
    }
}

/// Reads (and drops) whatever the client sends until it goes away; never writes, never
/// closes first.
async fn hold(mut client: TcpStream, shared: &Shared) {
    let mut buf = vec![0_u8; CHUNK_BYTES];
    while let Ok(n @ 1..) = client.read(&mut buf).await {
        shared
            .bytes_from_clients
            .fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Waits for the request (a little), so the answer comes after it as a server's would.
async fn take_request(client: &mut TcpStream, shared: &Shared) {
    let mut buf = vec![0_u8; CHUNK_BYTES];
    if let Ok(Ok(n)) = tokio::time::timeout(REQUEST_WAIT, client.read(&mut buf)).await {
        shared
            .bytes_from_clients
            .fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Answers `bytes` to whatever was asked, then closes.
async fn answer(mut client: TcpStream, shared: &Shared, bytes: &[u8]) {
    take_request(&mut client, shared).await;
    if client.write_all(bytes).await.is_ok() {
        shared
            .bytes_to_clients
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    }
    client.shutdown().await.ok();
}

/// Answers headers and then a body without end, until the client hangs up.
async fn endless(mut client: TcpStream, shared: &Shared) {
    take_request(&mut client, shared).await;
    let head = forge::huge_head();
    if client.write_all(head).await.is_err() {
        return;
    }
    shared
        .bytes_to_clients
        .fetch_add(head.len() as u64, Ordering::Relaxed);
    let block = forge::huge_block();
    while client.write_all(&block).await.is_ok() {
        shared
            .bytes_to_clients
            .fetch_add(block.len() as u64, Ordering::Relaxed);
    }
}

/// Forwards between the client and a new upstream connection until both ends close or
/// the fault ends the connection.
async fn forward(mut client: TcpStream, shared: &Shared, faults: watch::Receiver<Fault>) {
    let Ok(Ok(mut upstream)) =
        tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&shared.upstream)).await
    else {
        // No upstream: the client sees its connection closed, as behind a real proxy.
        return;
    };
    shared.upstream_connections.fetch_add(1, Ordering::Relaxed);
    upstream.set_nodelay(true).ok();
    // Set when the client's bytes held the armed pattern: its answer fires the trigger.
    let asked = AtomicBool::new(false);
    let end = {
        let (mut client_in, mut client_out) = client.split();
        let (mut upstream_in, mut upstream_out) = upstream.split();
        let (up_tx, mut up_rx) = mpsc::channel(QUEUED_CHUNKS);
        let (down_tx, mut down_rx) = mpsc::channel(QUEUED_CHUNKS);
        let (mut up_faults, mut down_faults) = (faults.clone(), faults);
        let up = one_way(
            read_in(&mut client_in, up_tx, shared, Way::Up, &asked),
            write_out(
                &mut upstream_out,
                &mut up_rx,
                &mut up_faults,
                shared,
                Way::Up,
                &asked,
            ),
        );
        let down = one_way(
            read_in(&mut upstream_in, down_tx, shared, Way::Down, &asked),
            write_out(
                &mut client_out,
                &mut down_rx,
                &mut down_faults,
                shared,
                Way::Down,
                &asked,
            ),
        );
        tokio::pin!(up, down);
        tokio::select! {
            e = &mut up => if e == End::Eof { down.await } else { e },
            e = &mut down => if e == End::Eof { up.await } else { e },
        }
    };
    if end == End::HalfOpen {
        drop(upstream);
        hold(client, shared).await;
    }
}

/// One direction: its reader and writer together; ends when the writer does (after
/// the reader's end has drained through it, or at once on a fault).
async fn one_way(reader: impl Future<Output = ()>, writer: impl Future<Output = End>) -> End {
    tokio::pin!(reader, writer);
    tokio::select! {
        biased;
        e = &mut writer => e,
        () = &mut reader => writer.await,
    }
}

/// Reads chunks into `tx`, timestamped, until the sender closes. On the way up, looks
/// for the armed trigger's pattern (across chunk edges).
async fn read_in(
    from: &mut (impl AsyncRead + Unpin),
    tx: mpsc::Sender<(Instant, Vec<u8>)>,
    shared: &Shared,
    way: Way,
    asked: &AtomicBool,
) {
    let mut buf = vec![0_u8; CHUNK_BYTES];
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let chunk = buf[..n].to_vec();
        if way == Way::Up {
            shared
                .bytes_from_clients
                .fetch_add(n as u64, Ordering::Relaxed);
            if let Some(pattern) = shared.trigger_pattern().filter(|p| !p.is_empty()) {
                tail.extend_from_slice(&chunk);
                if tail.windows(pattern.len()).any(|w| w == pattern.as_slice()) {
                    asked.store(true, Ordering::Relaxed);
                }
                let keep = pattern.len().saturating_sub(1);
                tail.drain(..tail.len().saturating_sub(keep));
            }
        }
        if tx.send((Instant::now(), chunk)).await.is_err() {
            return;
        }
    }
}

/// Delivers chunks from `rx` as the fault allows, until the queue ends (then passes the
/// end on) or the fault ends the connection.
async fn write_out(
    to: &mut (impl AsyncWrite + Unpin),
    rx: &mut mpsc::Receiver<(Instant, Vec<u8>)>,
    faults: &mut watch::Receiver<Fault>,
    shared: &Shared,
    way: Way,
    asked: &AtomicBool,
) -> End {
    let mut written = 0_usize;
    loop {
        let (read_at, chunk) = loop {
            if let Some(end) = ends_connection(*faults.borrow_and_update()) {
                return end;
            }
            tokio::select! {
                c = rx.recv() => {
                    if let Some(c) = c {
                        break c;
                    }
                    to.shutdown().await.ok();
                    if way == Way::Down && asked.load(Ordering::Relaxed) {
                        shared.fire();
                    }
                    return End::Eof;
                }
                r = faults.changed() => if r.is_err() { return End::Abort },
            }
        };
        let mut sent = 0;
        while sent < chunk.len() {
            let fault = *faults.borrow_and_update();
            if let Some(end) = ends_connection(fault) {
                return end;
            }
            let rest = &chunk[sent..];
            let step = match fault {
                Fault::Silence => {
                    if faults.changed().await.is_err() {
                        return End::Abort;
                    }
                    continue;
                }
                Fault::Latency(d) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(read_at + d) => rest.len(),
                        r = faults.changed() => {
                            if r.is_err() { return End::Abort }
                            continue;
                        }
                    }
                }
                Fault::Slowloris(d) if way == Way::Down => {
                    if sent > 0 || written > 0 {
                        tokio::select! {
                            () = tokio::time::sleep(d) => {}
                            r = faults.changed() => {
                                if r.is_err() { return End::Abort }
                                continue;
                            }
                        }
                    }
                    1
                }
                Fault::Truncate(cut) if way == Way::Down => {
                    let room = cut.saturating_sub(written);
                    if room == 0 {
                        return End::Abort;
                    }
                    room.min(rest.len())
                }
                _ => rest.len(),
            };
            if to.write_all(&rest[..step]).await.is_err() {
                return End::Abort;
            }
            sent += step;
            written += step;
            if way == Way::Down {
                shared
                    .bytes_to_clients
                    .fetch_add(step as u64, Ordering::Relaxed);
                if matches!(fault, Fault::Truncate(cut) if written >= cut) {
                    // Cut: close now, not at the next chunk (there may be none).
                    to.flush().await.ok();
                    return End::Abort;
                }
            }
        }
        if way == Way::Down && asked.load(Ordering::Relaxed) {
            shared.fire();
        }
    }
}

/// The end a fault forces on an established connection, if any.
fn ends_connection(fault: Fault) -> Option<End> {
    if fault.replaces_the_answer() {
        Some(End::Abort)
    } else if fault == Fault::HalfOpen {
        Some(End::HalfOpen)
    } else {
        None
    }
}
