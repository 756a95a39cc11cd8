//! How the harness speaks to a target: HTTP with recorded evidence, TLS with the target's
//! trust anchors, and real MLS clients.

pub mod actors;
pub mod gateway;
pub mod http;
pub mod mls;
pub mod mlsrs;
pub mod provider;
pub mod raw_ws;
pub mod tls;
pub mod xwing;
