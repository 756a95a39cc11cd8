//! The cipher-suite registry: polyproto identifiers versus MLS wire code points.
//!
//! polyproto-mls requires `0x0001` and `0xF110` ("Hybrid PQS"). The spec names no algorithms for
//! `0xF110`; our profile defines it as the algorithm set of draft-ietf-mls-pq-ciphersuites'
//! MLS_128_MLKEM768X25519_AES128GCM_SHA256_Ed25519 (X-Wing KEM), whose wire code point is 0x004F.
//! Inside MLS bytes the wire point appears; the polyproto identifier is used in the HTTP layer.

use serde::{Deserialize, Serialize};

/// The default wire code point that carries the Hybrid PQS suite.
pub const HYBRID_PQS_DEFAULT_WIRE: u16 = 0x004F;

/// One suite the polyproto-mls specification requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Suite {
    /// The identifier used in polyproto's HTTP layer and in reports.
    pub polyproto_id: u16,
    /// The code point inside MLS messages.
    pub wire: u16,
    /// Human-readable name.
    pub name: &'static str,
}

/// MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519.
pub const MLS_DEFAULT: Suite = Suite {
    polyproto_id: 0x0001,
    wire: 0x0001,
    name: "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519",
};

/// The registry of required suites, with the wire point of Hybrid PQS configurable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteRegistry {
    suites: Vec<Suite>,
}

impl SuiteRegistry {
    /// The registry with Hybrid PQS carried by `hybrid_wire` on the MLS wire.
    pub fn new(hybrid_wire: u16) -> Self {
        Self {
            suites: vec![
                MLS_DEFAULT,
                Suite {
                    polyproto_id: 0xF110,
                    wire: hybrid_wire,
                    name: "Hybrid PQS (X-Wing ML-KEM-768+X25519, AES128GCM, SHA256, Ed25519)",
                },
            ],
        }
    }

    /// All required suites, `0x0001` first.
    pub fn suites(&self) -> &[Suite] {
        &self.suites
    }

    /// The polyproto identifier for an MLS wire code point. Suites outside the registry keep
    /// their wire value, so that a report can still name them.
    pub fn polyproto_id_for_wire(&self, wire: u16) -> u16 {
        self.suites
            .iter()
            .find(|s| s.wire == wire)
            .map_or(wire, |s| s.polyproto_id)
    }

    /// The registry entry with this polyproto identifier.
    pub fn by_polyproto_id(&self, id: u16) -> Option<Suite> {
        self.suites.iter().copied().find(|s| s.polyproto_id == id)
    }

    /// The other required suite than the one with this polyproto identifier.
    pub fn other_than(&self, polyproto_id: u16) -> Option<Suite> {
        self.suites
            .iter()
            .copied()
            .find(|s| s.polyproto_id != polyproto_id)
    }

    /// The registry entry carried by this wire code point.
    pub fn by_wire(&self, wire: u16) -> Option<Suite> {
        self.suites.iter().copied().find(|s| s.wire == wire)
    }
}

impl Default for SuiteRegistry {
    fn default() -> Self {
        Self::new(HYBRID_PQS_DEFAULT_WIRE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_maps_both_ways() {
        let registry = SuiteRegistry::default();
        assert_eq!(registry.polyproto_id_for_wire(0x004F), 0xF110);
        assert_eq!(
            registry.by_polyproto_id(0xF110).map(|s| s.wire),
            Some(0x004F)
        );
        assert_eq!(registry.polyproto_id_for_wire(0x0003), 0x0003);
        assert!(registry.by_wire(0x0003).is_none());
    }

    #[test]
    fn hybrid_wire_is_configurable() {
        let registry = SuiteRegistry::new(0x0050);
        assert_eq!(registry.polyproto_id_for_wire(0x0050), 0xF110);
        assert_eq!(registry.polyproto_id_for_wire(0x004F), 0x004F);
    }
}
