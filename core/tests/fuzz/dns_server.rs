//! A hostile DNS server for the DNS target, and the only way to reach the console's
//! reading of an answer: `dns::ask` talks DNS over TCP, so each input is served, with
//! its length prefix, by this small local server on a loopback port, to a real `ask`.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use switchboard_core::dns;

use super::Verdict;

/// The name every input is asked about.
const ASKED: &str = "www.example.test";

/// A server answering every query with the bytes set last (its own 2-byte length
/// prefix in front, as DNS over TCP frames them).
struct Hostile {
    addr: SocketAddr,
    answer: Arc<Mutex<Vec<u8>>>,
}

impl Hostile {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("its address");
        let answer = Arc::new(Mutex::new(Vec::<u8>::new()));
        let served = Arc::clone(&answer);
        std::thread::Builder::new()
            .name("fuzz-dns-server".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    let Ok(mut s) = conn else { continue };
                    s.set_read_timeout(Some(Duration::from_secs(2))).ok();
                    let mut head = [0u8; 2];
                    if s.read_exact(&mut head).is_err() {
                        continue;
                    }
                    let mut query = vec![0u8; usize::from(u16::from_be_bytes(head))];
                    if s.read_exact(&mut query).is_err() {
                        continue;
                    }
                    let body = served
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone();
                    let len = u16::try_from(body.len()).unwrap_or(u16::MAX);
                    let mut out = len.to_be_bytes().to_vec();
                    out.extend_from_slice(&body);
                    s.write_all(&out).ok();
                }
            })
            .expect("server thread");
        Self { addr, answer }
    }
}

thread_local! {
    static SERVER: Hostile = Hostile::start();
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
}

/// Feeds `input` to `dns::ask` as the server's answer; the record type asked for is
/// picked from the input's length so that every branch of the reading is reached.
pub fn answer(input: &[u8]) -> Verdict {
    let rtype = [
        RecordType::A,
        RecordType::AAAA,
        RecordType::CNAME,
        RecordType::SOA,
    ][input.len() % 4];
    let addr = SERVER.with(|s| {
        *s.answer.lock().unwrap_or_else(PoisonError::into_inner) = input.to_vec();
        s.addr
    });
    let name = dns::name(ASKED).expect("the asked name");
    let got = RUNTIME.with(|rt| rt.block_on(dns::ask(addr, &name, rtype, Duration::from_secs(2))));
    match got {
        Ok(_) => Verdict::Accepted,
        Err(e) => Verdict::Refused(e),
    }
}

/// Well-formed answers of each type the console reads, and a refusal, as seeds.
pub fn seeds() -> Vec<Vec<u8>> {
    let name = Name::from_ascii(ASKED).expect("name");
    let zone = Name::from_ascii("example.test").expect("zone");
    let target = Name::from_ascii("standby.example.test").expect("target");
    let rdatas = [
        RData::A(A::new(10, 0, 0, 7)),
        RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        RData::CNAME(CNAME(target.clone())),
        RData::SOA(SOA::new(zone, target, 2_026_120_601, 3600, 600, 86_400, 60)),
    ];
    let mut out = Vec::new();
    for (i, rdata) in rdatas.into_iter().enumerate() {
        let mut m = Message::query();
        m.metadata.message_type = MessageType::Response;
        m.add_query(Query::query(name.clone(), rdata.record_type()));
        m.add_answer(Record::from_rdata(
            name.clone(),
            60 + u32::try_from(i).unwrap_or(0),
            rdata,
        ));
        out.push(m.to_vec().expect("encode"));
    }
    let mut refused = Message::query();
    refused.metadata.message_type = MessageType::Response;
    refused.metadata.response_code = ResponseCode::Refused;
    out.push(refused.to_vec().expect("encode"));
    out
}
