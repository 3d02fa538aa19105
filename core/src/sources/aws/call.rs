//! One signed call to an AWS API, bounded in time and size, its XML answer read and
//! its errors said in an operator's words (whose credentials, which call, AWS's own
//! code and message).

use std::time::Duration;

use super::credentials::{self, Resolved};
use super::xml::{self, Element};
use super::{AwsRef, sigv4};
use crate::sources::HttpClient;
use crate::time::{Clock, SystemClock};

/// An AWS API as the console calls it: the service's endpoint, its region for
/// signing, the credentials found for it.
pub struct Api {
    client: HttpClient,
    resolved: Resolved,
    /// The signing name (`route53`, `ec2`).
    service: &'static str,
    region: String,
    /// `https://ec2.eu-west-1.amazonaws.com`, or the configured endpoint.
    base: String,
    timeout: Duration,
}

impl Api {
    /// Route53: global, signed for `us-east-1`.
    pub fn route53(aws: &AwsRef, timeout: Duration) -> Result<Self, String> {
        Self::route53_as(credentials::resolve(aws, "ROUTE_53")?, timeout)
    }

    /// Route53 with credentials already found.
    pub fn route53_as(resolved: Resolved, timeout: Duration) -> Result<Self, String> {
        let base = resolved
            .endpoint
            .clone()
            .unwrap_or_else(|| "https://route53.amazonaws.com".to_owned());
        Self::new(resolved, "route53", "us-east-1".to_owned(), base, timeout)
    }

    /// EC2 in the region found for it.
    pub fn ec2(aws: &AwsRef, timeout: Duration) -> Result<Self, String> {
        Self::ec2_as(credentials::resolve(aws, "EC2")?, timeout)
    }

    /// EC2 with credentials already found.
    pub fn ec2_as(resolved: Resolved, timeout: Duration) -> Result<Self, String> {
        let region = resolved.region.clone().ok_or_else(|| {
            "no AWS region for EC2: set region in the configuration, AWS_REGION, or the profile's region"
                .to_owned()
        })?;
        let base = resolved
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://ec2.{region}.amazonaws.com"));
        Self::new(resolved, "ec2", region, base, timeout)
    }

    fn new(
        resolved: Resolved,
        service: &'static str,
        region: String,
        base: String,
        timeout: Duration,
    ) -> Result<Self, String> {
        Ok(Self {
            client: crate::sources::http::client(timeout)?,
            resolved,
            service,
            region,
            base,
            timeout,
        })
    }

    /// Where the credentials came from, for messages.
    pub fn credentials_from(&self) -> &str {
        &self.resolved.from
    }

    /// The endpoint called.
    pub fn endpoint(&self) -> &str {
        &self.base
    }

    /// `method path?query` with `body` (of `content_type`), signed; the answer's XML,
    /// or why not in words. `what` names the call for the operator.
    pub async fn call(
        &self,
        what: &str,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: Vec<u8>,
        content_type: Option<&str>,
    ) -> Result<Element, String> {
        let host = self
            .base
            .split("://")
            .nth(1)
            .unwrap_or(&self.base)
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let mut headers = vec![("host".to_owned(), host)];
        if let Some(ct) = content_type {
            headers.push(("content-type".to_owned(), ct.to_owned()));
        }
        let req = sigv4::Request {
            method,
            path,
            query,
            headers: &headers,
            payload: &body,
        };
        let signed = sigv4::sign(
            &req,
            &self.resolved.credentials,
            &self.region,
            self.service,
            SystemClock.now(),
        );
        let url = if query.is_empty() {
            format!("{}{path}", self.base)
        } else {
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{}={}", sigv4::uri_encode(k), sigv4::uri_encode(v)))
                .collect();
            format!("{}{path}?{}", self.base, q.join("&"))
        };
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let answer = async {
            let mut rb = self.client.request(method, &url)?;
            for (k, v) in headers.iter().skip(1).chain(&signed) {
                rb = rb.header(k.as_str(), v.as_str());
            }
            let resp = rb
                .body(body.clone())
                .send()
                .await
                .map_err(|e| self.client.describe(&e, self.timeout))?;
            let status = resp.status();
            let text = self.client.body(resp, self.timeout).await?;
            Ok::<_, String>((status, text))
        };
        let (status, text) = crate::sources::bounded(self.timeout, &url, answer).await?;
        let parsed = xml::parse(&text);
        if status.is_success() {
            return parsed.map_err(|e| format!("{what}: AWS answered {status} with {e}"));
        }
        Err(self.refusal(what, status.as_u16(), parsed.ok().as_ref()))
    }

    /// An error answer in words: AWS's code and message, and what it means here.
    fn refusal(&self, what: &str, status: u16, answer: Option<&Element>) -> String {
        // Route53: ErrorResponse/Error; EC2: Response/Errors/Error.
        let err = answer.and_then(|a| a.at("Error").or_else(|| a.at("Errors/Error")));
        let code = err.and_then(|e| e.text_at("Code")).unwrap_or_default();
        let message = err.and_then(|e| e.text_at("Message")).unwrap_or_default();
        let said = if code.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("{code}: {message}")
        };
        let from = &self.resolved.from;
        match code {
            "AuthFailure"
            | "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "UnrecognizedClientException"
            | "InvalidAccessKeyId"
            | "ExpiredToken"
            | "RequestExpired" => {
                format!("{what}: AWS does not accept the credentials from {from} ({said})")
            }
            "AccessDenied" | "UnauthorizedOperation" | "AccessDeniedException" => {
                format!("{what}: the credentials from {from} may not do this ({said})")
            }
            _ => format!("{what}: AWS refused ({said}) at {}", self.base),
        }
    }
}
