//! Identifier newtypes.
//!
//! Each is a cheap-to-clone shared string (`Arc<str>`): snapshots of the state are
//! cloned for the UI, and cloning an id must not allocate.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Arc<str>);

        impl Default for $name {
            fn default() -> Self {
                Self::new("")
            }
        }

        impl $name {
            /// A new id from any string.
            pub fn new(name: impl AsRef<str>) -> Self {
                Self(Arc::from(name.as_ref()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::new(s)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// A configured source, e.g. `control-plane` or `drill`.
    SourceId
);
id_type!(
    /// A service: a named group of instances (`checkout`).
    ServiceId
);
id_type!(
    /// One running instance of a service (`checkout-03`, a pod, a backend server).
    InstanceId
);
id_type!(
    /// A circuit breaker, usually `<gateway>/<route>`.
    BreakerId
);
id_type!(
    /// A gateway route.
    RouteId
);
id_type!(
    /// A consensus cluster (etcd, Consul) or a database cluster (Patroni).
    ClusterId
);
id_type!(
    /// A member of a cluster, by its name (`m1`, `pg-2`).
    MemberId
);
