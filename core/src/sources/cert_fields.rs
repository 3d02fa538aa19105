//! The two things the console needs from a server's certificate, read straight from
//! the DER: when it stops being valid (`notAfter`), and the hash its signature uses.
//!
//! An expired certificate is a common cause of the outages the console is opened for, so
//! each TLS connection can tell how long its server's certificate has left. SCRAM's
//! channel binding (`tls-server-end-point`, RFC 5929) hashes the certificate with its
//! own signature's hash. Only these fields are needed, so this walks the few DER
//! elements before them rather than pulling in an X.509 parser; anything unexpected
//! gives `None`, never a panic.

/// The certificate's `notAfter` as Unix seconds, or `None` if `der` is not a
/// certificate this reader understands.
pub fn not_after_unix_secs(der: &[u8]) -> Option<i64> {
    let (tag, cert, _) = tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, tbs, _) = tlv(cert)?;
    if tag != 0x30 {
        return None;
    }
    let mut rest = tbs;
    // [0] version, present from v2 on.
    if rest.first() == Some(&0xA0) {
        rest = tlv(rest)?.2;
    }
    // serialNumber, signature algorithm, issuer.
    for want in [0x02, 0x30, 0x30] {
        let (tag, _, after) = tlv(rest)?;
        if tag != want {
            return None;
        }
        rest = after;
    }
    let (tag, validity, _) = tlv(rest)?;
    if tag != 0x30 {
        return None;
    }
    let (_, _, after_not_before) = tlv(validity)?;
    let (tag, not_after, _) = tlv(after_not_before)?;
    time(tag, not_after)
}

/// The hash of `tls-server-end-point` for a certificate: its signature's hash, with
/// MD5 and SHA-1 raised to SHA-256 (RFC 5929 section 4.1); `None` when the signature
/// names no hash this reader knows (Ed25519, RSA-PSS, SHA-224), and then no binding is
/// offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndPointHash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

/// Signature algorithm OIDs (DER content) without their last arc: PKCS #1 RSA
/// (1.2.840.113549.1.1.x) and ECDSA with SHA-2 (1.2.840.10045.4.3.x); ECDSA with SHA-1
/// whole (1.2.840.10045.4.1).
const RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01];
const ECDSA_SHA2: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03];
const ECDSA_SHA1: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x01];

/// The hash channel binding uses for the certificate `der`.
pub fn end_point_hash(der: &[u8]) -> Option<EndPointHash> {
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
    let (tag, cert, _) = tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let (_, _, after_tbs) = tlv(cert)?;
    let (tag, alg, _) = tlv(after_tbs)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, oid, _) = tlv(alg)?;
    if tag != 0x06 {
        return None;
    }
    if oid == ECDSA_SHA1 {
        return Some(EndPointHash::Sha256);
    }
    let (family, last) = oid.split_at(oid.len().checked_sub(1)?);
    match (family, last) {
        // md5, sha1, sha256 WithRSAEncryption; ecdsa-with-SHA256. (SHA-224 signatures
        // would need SHA-224, which ring lacks: no binding for them.)
        (RSA, [0x04 | 0x05 | 0x0B]) | (ECDSA_SHA2, [0x02]) => Some(EndPointHash::Sha256),
        (RSA, [0x0C]) | (ECDSA_SHA2, [0x03]) => Some(EndPointHash::Sha384),
        (RSA, [0x0D]) | (ECDSA_SHA2, [0x04]) => Some(EndPointHash::Sha512),
        _ => None,
    }
}

/// One DER element: its tag, its content and what follows it.
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let len = b
            .get(2..2 + n)?
            .iter()
            .fold(0usize, |acc, &x| (acc << 8) | usize::from(x));
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    Some((tag, b.get(header..end)?, b.get(end..)?))
}

/// `UTCTime` (`YYMMDDHHMMSSZ`, years 1950-2049) or `GeneralizedTime` (`YYYYMMDDHHMMSSZ`)
/// as Unix seconds.
fn time(tag: u8, v: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(v).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i64 = s.get(..2)?.parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, s.get(2..)?)
        }
        0x18 => (s.get(..4)?.parse().ok()?, s.get(4..)?),
        _ => return None,
    };
    let field = |i: usize| -> Option<i64> { rest.get(i..i + 2)?.parse().ok() };
    let (month, day) = (field(0)?, field(2)?);
    let (hour, minute, second) = (field(4)?, field(6)?, field(8)?);
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Unix seconds as a UTC date and time for messages: `2026-12-05 06:05 UTC`.
pub fn utc_text(unix_secs: i64) -> String {
    let (days, secs) = (unix_secs.div_euclid(86_400), unix_secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_time_forms_read_as_unix_seconds() {
        assert_eq!(time(0x17, b"250102000000Z"), Some(1_735_776_000));
        assert_eq!(time(0x18, b"20250102000000Z"), Some(1_735_776_000));
        assert_eq!(time(0x17, b"700101000001Z"), Some(1));
        assert_eq!(time(0x18, b"20000229120000Z"), Some(951_825_600));
        assert_eq!(time(0x17, b"2501020000Z"), None);
    }

    #[test]
    fn dates_read_back_as_text() {
        assert_eq!(utc_text(1_735_776_000), "2025-01-02 00:00 UTC");
        assert_eq!(utc_text(951_825_600 + 61), "2000-02-29 12:01 UTC");
        assert_eq!(utc_text(0), "1970-01-01 00:00 UTC");
    }

    #[test]
    fn garbage_is_none_not_a_panic() {
        assert_eq!(end_point_hash(b""), None);
        assert_eq!(end_point_hash(&[0x30, 0x02, 0x30, 0x00]), None);
        assert_eq!(not_after_unix_secs(b""), None);
        assert_eq!(
            not_after_unix_secs(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
            None
        );
        assert_eq!(not_after_unix_secs(&[0x30, 0x03, 0x30, 0x01]), None);
    }
}
