//! DNS as the console speaks it: questions asked of one authoritative server directly
//! (no resolver, no cache: the point is to see what each server of the zone says now),
//! and RFC 2136 dynamic updates signed with TSIG.
//!
//! Every exchange is one TCP connection with the two-byte length prefix (RFC 1035
//! 4.2.2), bounded in time (connect, write and read together) and in size (a DNS
//! message is at most 65,535 bytes by construction). An update is a compare-and-swap:
//! its prerequisite is the record set as the plan read it, so a record someone changed
//! in between is refused by the server (`NXRRSET`), not overwritten.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, OpCode, Query, ResponseCode, update_message};
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::rdata::{A, AAAA, CNAME};
use hickory_proto::rr::{DNSClass, Name, RData, RecordSet, RecordType, TSigner};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// What a name points to, as one server answers: the record type and its values.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Answer {
    /// `A`, `AAAA` or `CNAME`.
    pub rtype: String,
    /// The values (addresses, or the canonical name without its final dot), sorted.
    pub values: Vec<String>,
    /// Its TTL in seconds.
    pub ttl_secs: u32,
}

/// One server's answer for a record: what it says (`None`: no such record), or why it
/// could not be asked.
pub type ServerAnswer = (SocketAddr, Result<Option<Answer>, String>);

/// A TSIG key, its secret already read from where the configuration points.
#[derive(Clone)]
pub struct TsigKey {
    /// The key's name, as the server knows it.
    pub name: String,
    /// `hmac-sha256`, `hmac-sha384` or `hmac-sha512`.
    pub algorithm: String,
    /// The secret (decoded from base64).
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret never lands in a log line or a message.
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl TsigKey {
    /// A key from its name, algorithm and base64 secret (as `tsig-keygen` prints it).
    pub fn from_base64(name: &str, algorithm: &str, secret_b64: &str) -> Result<Self, String> {
        let secret = data_encoding::BASE64
            .decode(secret_b64.trim().as_bytes())
            .map_err(|_| format!("the TSIG secret of key {name} is not base64"))?;
        Ok(Self {
            name: name.to_owned(),
            algorithm: algorithm.to_owned(),
            secret,
        })
    }

    fn signer(&self) -> Result<TSigner, String> {
        let algorithm = match self.algorithm.to_ascii_lowercase().as_str() {
            "hmac-sha256" => TsigAlgorithm::HmacSha256,
            "hmac-sha384" => TsigAlgorithm::HmacSha384,
            "hmac-sha512" => TsigAlgorithm::HmacSha512,
            other => {
                return Err(format!(
                    "TSIG algorithm {other:?} is not supported (hmac-sha256, hmac-sha384, hmac-sha512 are)"
                ));
            }
        };
        let name = name(&self.name)?;
        TSigner::new(self.secret.clone(), algorithm, name, 300)
            .map_err(|e| format!("TSIG key {}: {e}", self.name))
    }
}

/// A name from text, fully qualified.
pub fn name(text: &str) -> Result<Name, String> {
    let mut n = Name::from_ascii(text).map_err(|e| format!("{text:?} is not a DNS name: {e}"))?;
    n.set_fqdn(true);
    Ok(n)
}

/// The record type of `text` (`A`, `AAAA`, `CNAME`).
pub fn record_type(text: &str) -> Result<RecordType, String> {
    match text.to_ascii_uppercase().as_str() {
        "A" => Ok(RecordType::A),
        "AAAA" => Ok(RecordType::AAAA),
        "CNAME" => Ok(RecordType::CNAME),
        other => Err(format!(
            "record type {other:?} is not watched (A, AAAA, CNAME are)"
        )),
    }
}

/// The server's words for a response code, for an operator.
pub fn rcode_words(code: ResponseCode) -> String {
    match code {
        ResponseCode::NotAuth => {
            "the server refused the update's key (NOTAUTH: wrong TSIG key, or the key may not update this zone)".into()
        }
        ResponseCode::Refused => "the server refused (REFUSED: not allowed from here, or not authoritative for the zone)".into(),
        ResponseCode::NXRRSet => "the record is no longer what the plan read (NXRRSET: someone changed it since)".into(),
        ResponseCode::NotZone => "the name is not in the zone (NOTZONE)".into(),
        ResponseCode::ServFail => "the server failed (SERVFAIL)".into(),
        ResponseCode::NXDomain => "no such name (NXDOMAIN)".into(),
        ResponseCode::BADSIG => "the server rejected the signature (BADSIG: wrong TSIG secret)".into(),
        ResponseCode::BADKEY => "the server does not know the TSIG key (BADKEY)".into(),
        ResponseCode::BADTIME => "the server's clock and this one differ too much (BADTIME)".into(),
        other => format!("the server answered {other}"),
    }
}

/// One exchange with `server`: `message` out, its answer back (unverified).
async fn exchange(
    server: SocketAddr,
    message: &Message,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let bytes = message
        .to_vec()
        .map_err(|e| format!("cannot encode the DNS message: {e}"))?;
    let len = u16::try_from(bytes.len()).map_err(|_| "the DNS message is too large".to_owned())?;
    let talk = async {
        let mut s = tokio::net::TcpStream::connect(server)
            .await
            .map_err(|e| format!("{server}: {e}"))?;
        let mut out = Vec::with_capacity(bytes.len() + 2);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&bytes);
        s.write_all(&out)
            .await
            .map_err(|e| format!("{server}: {e}"))?;
        let mut head = [0u8; 2];
        s.read_exact(&mut head)
            .await
            .map_err(|e| format!("{server}: no answer ({e})"))?;
        // The length prefix bounds the answer at 65,535 bytes.
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(head))];
        s.read_exact(&mut body)
            .await
            .map_err(|e| format!("{server}: the answer was cut short ({e})"))?;
        Ok::<_, String>(body)
    };
    tokio::time::timeout(timeout, talk)
        .await
        .map_err(|_| format!("{server}: no answer within {} ms", timeout.as_millis()))?
}

/// What `server` answers for `name` `rtype`, asked directly (no recursion). `Ok(None)`
/// when it has no such record (an empty answer or NXDOMAIN).
pub async fn ask(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    timeout: Duration,
) -> Result<Option<Answer>, String> {
    let mut q = Message::query();
    q.metadata.recursion_desired = false;
    q.add_query(Query::query(name.clone(), rtype));
    let answer = Message::from_vec(&exchange(server, &q, timeout).await?)
        .map_err(|e| format!("{server}: the answer is not DNS ({e})"))?;
    match answer.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Ok(None),
        other => return Err(format!("{server}: {}", rcode_words(other))),
    }
    let mut values = Vec::new();
    let mut ttl_secs = u32::MAX;
    for r in answer.answers.iter().filter(|r| r.name == *name) {
        let v = match &r.data {
            RData::A(a) if rtype == RecordType::A => a.0.to_string(),
            RData::AAAA(a) if rtype == RecordType::AAAA => a.0.to_string(),
            RData::CNAME(c) if rtype == RecordType::CNAME => bare(&c.0),
            RData::SOA(s) if rtype == RecordType::SOA => s.serial.to_string(),
            _ => continue,
        };
        ttl_secs = ttl_secs.min(r.ttl);
        values.push(v);
    }
    if values.is_empty() {
        return Ok(None);
    }
    values.sort();
    Ok(Some(Answer {
        rtype: rtype.to_string(),
        values,
        ttl_secs,
    }))
}

/// The zone's SOA serial on `server`.
pub async fn serial(server: SocketAddr, zone: &Name, timeout: Duration) -> Result<u32, String> {
    ask(server, zone, RecordType::SOA, timeout)
        .await?
        .and_then(|a| a.values.first().and_then(|v| v.parse().ok()))
        .ok_or_else(|| format!("{server}: no SOA for zone {}", bare(zone)))
}

/// A name as shown: without its final dot.
pub fn bare(n: &Name) -> String {
    n.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

/// A record's value as the console compares it: an address printed back in its canonical
/// form (`2001:DB8:0::1` -> `2001:db8::1`), a name in lower case without its final dot.
pub fn canonical(rtype: RecordType, value: &str) -> Result<String, String> {
    let v = value.trim();
    match rtype {
        RecordType::A => v
            .parse::<std::net::Ipv4Addr>()
            .map(|a| a.to_string())
            .map_err(|_| format!("{v:?} is not an IPv4 address")),
        RecordType::AAAA => v
            .parse::<std::net::Ipv6Addr>()
            .map(|a| a.to_string())
            .map_err(|_| format!("{v:?} is not an IPv6 address")),
        _ => {
            let n = v.trim_end_matches('.').to_ascii_lowercase();
            if n.is_empty() {
                Err("an empty name".to_owned())
            } else {
                Ok(n)
            }
        }
    }
}

/// A configured value (a name, or addresses separated by commas) as the sorted set of
/// canonical values it stands for; a CNAME has exactly one.
pub fn values(rtype: RecordType, text: &str) -> Result<Vec<String>, String> {
    let mut out = text
        .split(',')
        .filter(|v| !v.trim().is_empty())
        .map(|v| canonical(rtype, v))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    match (rtype, out.len()) {
        (_, 0) => Err(format!("{text:?} gives no value")),
        (RecordType::CNAME, n) if n > 1 => {
            Err(format!("a CNAME has one value, not {n} ({text:?})"))
        }
        _ => Ok(out),
    }
}

fn record_set(name: &Name, answer: &Answer) -> Result<RecordSet, String> {
    let rtype = record_type(&answer.rtype)?;
    let mut set = RecordSet::with_ttl(name.clone(), rtype, answer.ttl_secs);
    for v in &answer.values {
        let data = match rtype {
            RecordType::A => RData::A(A(v
                .parse()
                .map_err(|_| format!("{v:?} is not an IPv4 address"))?)),
            RecordType::AAAA => RData::AAAA(AAAA(
                v.parse()
                    .map_err(|_| format!("{v:?} is not an IPv6 address"))?,
            )),
            _ => RData::CNAME(CNAME(self::name(v)?)),
        };
        set.add_rdata(data);
    }
    set.set_dns_class(DNSClass::IN);
    Ok(set)
}

/// Why an update did not go through, and whether the zone may have changed anyway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SwapError {
    /// Nothing was sent, or the server answered that it refused: the zone is as it was.
    NotApplied(String),
    /// The update was sent but its outcome is not known (no answer, a cut answer, a
    /// success whose signature does not verify): the server may have applied it.
    Unknown(String),
}

impl std::fmt::Display for SwapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotApplied(e) => write!(f, "not applied: {e}"),
            Self::Unknown(e) => write!(
                f,
                "it may have been applied ({e}): check the record on the primary before trying again"
            ),
        }
    }
}

/// Replaces `name`'s record set `from` with `to` on the zone's primary `server`, in one
/// RFC 2136 update signed with `key`: prerequisite "the set is `from`", then delete it
/// and add `to`. Refused by the server, in its words, when the set changed since.
pub async fn swap(
    server: SocketAddr,
    zone: &Name,
    name: &Name,
    from: &Answer,
    to: &Answer,
    key: &TsigKey,
    timeout: Duration,
) -> Result<(), SwapError> {
    use SwapError::{NotApplied, Unknown};
    if !zone.zone_of(name) {
        return Err(NotApplied(format!(
            "{} is not in zone {}",
            bare(name),
            bare(zone)
        )));
    }
    let mut update = update_message::compare_and_swap(
        record_set(name, from).map_err(NotApplied)?,
        record_set(name, to).map_err(NotApplied)?,
        zone.clone(),
        false,
    );
    debug_assert_eq!(update.metadata.op_code, OpCode::Update);
    let signer = key.signer().map_err(NotApplied)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut verifier = update
        .finalize(&signer, now)
        .map_err(|e| NotApplied(format!("cannot sign the update with key {}: {e}", key.name)))?;
    let bytes = exchange(server, &update, timeout).await.map_err(Unknown)?;
    let answer = Message::from_vec(&bytes)
        .map_err(|e| Unknown(format!("{server}: the answer is not DNS ({e})")))?;
    if answer.metadata.response_code != ResponseCode::NoError {
        return Err(NotApplied(format!(
            "{server}: {}",
            rcode_words(answer.metadata.response_code)
        )));
    }
    // A success must come from a server holding the key: check its signature.
    if let Some(v) = verifier.as_mut() {
        v.verify(&bytes).map_err(|e| {
            Unknown(format!(
                "{server}: the answer's TSIG signature does not verify ({e})"
            ))
        })?;
    }
    Ok(())
}

/// The record as a one-line value (`CNAME standby-region.example.com`,
/// `A 10.0.0.1, 10.0.0.2`).
pub fn describe(a: &Answer) -> String {
    format!("{} {}", a.rtype, a.values.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_types_and_keys_say_what_is_wrong() {
        assert_eq!(
            bare(&name("www.example.test").expect("name")),
            "www.example.test"
        );
        assert!(
            record_type("MX")
                .expect_err("mx")
                .contains("A, AAAA, CNAME")
        );
        assert!(
            TsigKey::from_base64("k", "hmac-sha256", "not base64!")
                .expect_err("b64")
                .contains("not base64")
        );
        let key = TsigKey::from_base64("k", "hmac-md5", "c2VjcmV0").expect("key");
        assert!(
            key.signer()
                .err()
                .is_some_and(|e| e.contains("not supported"))
        );
        assert!(!format!("{key:?}").contains("secret\""), "{key:?}");
        assert!(
            !format!("{key:?}").contains("115"),
            "no secret bytes: {key:?}"
        );
    }

    /// Configured values compare with what servers answer: addresses in their canonical
    /// form, names in lower case without the final dot, a CNAME with one value only.
    #[test]
    fn configured_values_are_compared_as_servers_answer_them() {
        assert_eq!(
            values(RecordType::AAAA, "2001:DB8:0::1, 2001:db8::2").expect("v6"),
            ["2001:db8::1", "2001:db8::2"]
        );
        assert_eq!(
            values(RecordType::A, " 10.0.0.2,10.0.0.1,10.0.0.1 ").expect("v4"),
            ["10.0.0.1", "10.0.0.2"]
        );
        assert_eq!(
            values(RecordType::CNAME, "EU-Central.Example.COM.").expect("cname"),
            ["eu-central.example.com"]
        );
        assert!(values(RecordType::CNAME, "a.example, b.example").is_err());
        assert!(values(RecordType::A, "10.0.0.300").is_err());
        assert!(values(RecordType::A, " , ").is_err());
    }

    #[test]
    fn an_update_is_a_signed_compare_and_swap() {
        let zone = name("example.test").expect("zone");
        let www = name("www.example.test").expect("www");
        let from = Answer {
            rtype: "CNAME".into(),
            values: vec!["primary.example.test".into()],
            ttl_secs: 15,
        };
        let to = Answer {
            values: vec!["standby.example.test".into()],
            ..from.clone()
        };
        let mut m = update_message::compare_and_swap(
            record_set(&www, &from).expect("from"),
            record_set(&www, &to).expect("to"),
            zone,
            false,
        );
        let key = TsigKey::from_base64("k", "hmac-sha256", "c2VjcmV0c2VjcmV0").expect("key");
        m.finalize(&key.signer().expect("signer"), 1).expect("sign");
        let back = Message::from_vec(&m.to_vec().expect("encode")).expect("decode");
        assert_eq!(back.metadata.op_code, OpCode::Update);
        assert!(back.signature().is_some(), "signed");
        // prerequisite: the old CNAME; updates: delete it (class NONE), add the new one.
        assert_eq!(back.answers.len(), 1);
        assert_eq!(back.authorities.len(), 2);
        assert_eq!(back.authorities[0].dns_class, DNSClass::NONE);
        assert!(
            matches!(&back.authorities[1].data, RData::CNAME(c) if bare(&c.0) == "standby.example.test")
        );
    }
}
