//! AWS APIs the recovery path needs (Route53 for the public name, EC2 for fencing),
//! spoken directly: a signed HTTPS request (Signature Version 4, `sigv4.rs`) through
//! the console's own HTTP client, answers read as XML within the usual bounds. The
//! AWS SDK crates would bring hundreds of generated modules for four calls.
//!
//! Credentials and region come the way the AWS CLI finds them, never from the
//! console's configuration (`credentials.rs`); a configuration names only the
//! profile, the region and, for an emulator or a VPC endpoint, the endpoint.

pub mod call;
pub mod credentials;
pub mod ec2;
pub mod route53;
pub mod sigv4;
pub mod xml;

use serde::{Deserialize, Serialize};

/// How a source or a fence device reaches AWS: each field optional, the AWS CLI's
/// defaults otherwise.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsRef {
    /// The profile in `~/.aws/credentials` and `~/.aws/config` (else `AWS_PROFILE`,
    /// else `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The region (else `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The API's base URL, for an emulator or a private endpoint (else
    /// `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`, the profile's `endpoint_url`,
    /// then AWS's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// An access key: never written anywhere (its `Debug` shows the key id only).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `AKIA...` or, for temporary credentials, `ASIA...`.
    pub access_key_id: String,
    /// The secret.
    pub secret_access_key: String,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<secret>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<secret>"),
            )
            .finish()
    }
}
