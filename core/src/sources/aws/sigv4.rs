//! AWS Signature Version 4: what every AWS API call carries to say who asks.
//!
//! A request is reduced to a canonical form (method, path, sorted query, the signed
//! headers, the payload's SHA-256), which is hashed into a string to sign with the
//! date and the credential's scope (day, region, service); the key is the secret
//! access key narrowed by HMAC-SHA256 to that scope. The result goes in the
//! `Authorization` header, with `x-amz-date` (and `x-amz-security-token` for
//! temporary credentials). ring does the hashing: it is the TLS stack's own provider.

use std::fmt::Write as _;

use ring::{digest, hmac};

use super::Credentials;
use crate::time::Timestamp;

/// A request to sign: its method, path (already percent-encoded as sent), query pairs
/// (not encoded), headers (lower-case names) and payload.
pub struct Request<'a> {
    /// `GET`, `POST`.
    pub method: &'a str,
    /// The path as sent (`/2013-04-01/hostedzone/Z1/rrset`).
    pub path: &'a str,
    /// The query's pairs, not encoded.
    pub query: &'a [(String, String)],
    /// The headers sent, `host` among them.
    pub headers: &'a [(String, String)],
    /// The body.
    pub payload: &'a [u8],
}

/// The headers to add to `req` (`x-amz-date`, perhaps `x-amz-security-token`, and
/// `authorization`), signed at `at` for `region` and `service`.
pub fn sign(
    req: &Request<'_>,
    creds: &Credentials,
    region: &str,
    service: &str,
    at: Timestamp,
) -> Vec<(String, String)> {
    let amz_date = amz_date(at);
    let day = &amz_date[..8];
    let payload_hash = hex(digest::digest(&digest::SHA256, req.payload).as_ref());
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut added = vec![("x-amz-date".to_owned(), amz_date.clone())];
    if let Some(token) = &creds.session_token {
        added.push(("x-amz-security-token".to_owned(), token.clone()));
    }
    headers.extend(added.iter().cloned());
    headers.sort();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        if req.path.is_empty() { "/" } else { req.path },
        canonical_query(req.query),
        headers.iter().fold(String::new(), |mut out, (k, v)| {
            let _ = writeln!(out, "{k}:{v}");
            out
        }),
        signed,
        payload_hash
    );
    let scope = format!("{day}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    );
    let key = signing_key(&creds.secret_access_key, day, region, service);
    let signature = hex(hmac::sign(&key, to_sign.as_bytes()).as_ref());
    added.push((
        "authorization".to_owned(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
            creds.access_key_id
        ),
    ));
    added
}

/// `20150830T123600Z`.
fn amz_date(at: Timestamp) -> String {
    let t = Timestamp((at.0 / 1000) * 1000).to_rfc3339();
    t.trim_end_matches('Z')
        .split('.')
        .next()
        .unwrap_or_default()
        .replace(['-', ':'], "")
        + "Z"
}

/// The secret narrowed to one day, region and service.
fn signing_key(secret: &str, day: &str, region: &str, service: &str) -> hmac::Key {
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in [day, region, service, "aws4_request"] {
        let k = hmac::Key::new(hmac::HMAC_SHA256, &key);
        key = hmac::sign(&k, part.as_bytes()).as_ref().to_vec();
    }
    hmac::Key::new(hmac::HMAC_SHA256, &key)
}

/// The query, each name and value URI-encoded, sorted.
fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k), uri_encode(v)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// RFC 3986 encoding as AWS wants it: every byte but `A-Z a-z 0-9 - _ . ~`.
pub fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example_creds() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        }
    }

    fn signature(
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        payload: &[u8],
        service: &str,
    ) -> String {
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let req = Request {
            method,
            path,
            query: &query,
            headers: &headers,
            payload,
        };
        let at = Timestamp::parse_rfc3339("2015-08-30T12:36:00Z").expect("time");
        let added = sign(&req, &example_creds(), "us-east-1", service, at);
        assert!(added.contains(&("x-amz-date".to_owned(), "20150830T123600Z".to_owned())));
        added
            .into_iter()
            .find(|(k, _)| k == "authorization")
            .expect("authorization")
            .1
    }

    /// AWS's own test suite, `get-vanilla`.
    #[test]
    fn get_vanilla_signs_as_aws_publishes() {
        assert_eq!(
            signature(
                "GET",
                "/",
                &[],
                &[("host", "example.amazonaws.com")],
                b"",
                "service"
            ),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    /// The calls the console makes, signed as botocore (the AWS SDK for Python) signs
    /// them: an EC2 query with a form body, a Route53 read with a query string.
    #[test]
    fn ec2_and_route53_calls_sign_as_botocore_does() {
        let ec2 = signature(
            "POST",
            "/",
            &[],
            &[
                ("host", "ec2.amazonaws.com"),
                (
                    "content-type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                ),
            ],
            b"Action=StopInstances&InstanceId.1=i-1&Version=2016-11-15",
            "ec2",
        );
        assert!(
            ec2.ends_with(
                "SignedHeaders=content-type;host;x-amz-date, Signature=a7730be63b22156c298c4e073ba9efeae67272ef1b763b04ee60029e58dab253"
            ),
            "{ec2}"
        );
        let r53 = signature(
            "GET",
            "/2013-04-01/hostedzone/Z1/rrset",
            &[
                ("name", "www.example.com."),
                ("type", "CNAME"),
                ("maxitems", "1"),
            ],
            &[("host", "route53.amazonaws.com")],
            b"",
            "route53",
        );
        assert!(
            r53.ends_with(
                "Signature=3c550bc3c4fda5c4a5b98155ef53afd7f301750c3eaa7851da26a93fb21ee79e"
            ),
            "{r53}"
        );
    }

    #[test]
    fn query_encoding_is_rfc3986() {
        assert_eq!(uri_encode("a b/c~d"), "a%20b%2Fc~d");
        let q = vec![
            ("name".to_owned(), "www.example.com.".to_owned()),
            ("maxitems".to_owned(), "1".to_owned()),
        ];
        assert_eq!(canonical_query(&q), "maxitems=1&name=www.example.com.");
    }
}
