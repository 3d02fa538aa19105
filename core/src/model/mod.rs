//! Entities the console tracks: ids, health and role enums, and the plain data of
//! services, instances, routes, breakers, consensus clusters, database clusters,
//! public names and integrity findings.
//!
//! These are the nouns; `event` holds the verbs and `state` the fold of one into the other.

mod dns;
mod ids;
mod integrity;
mod kinds;
mod transport;

pub use self::dns::{DnsRead, DnsRecordView, DnsSide};
pub use self::ids::{BreakerId, ClusterId, InstanceId, MemberId, RouteId, ServiceId, SourceId};
pub use self::integrity::IntegrityFinding;
pub use self::kinds::{
    BreakerConfig, BreakerState, Choice, ClusterKind, Composition, DbRole, Feed, Feeds, Health,
    MetricUnit, QuorumState, ServiceRole, SourceKind, SourceStatus,
};
pub use self::transport::{CERT_WARN_DAYS, Concern, TlsMode, Transport};
