//! Gateway definitions (polyproto-core §3.2, and the `mls` namespace of our profile): opcode
//! numbers and close codes both sides agree on. Payload shapes are judged by the harness from raw
//! JSON, not from shared structs.

/// Discovery route answering `{"url": "ws://…"}` (as in the newer core API).
pub const DISCOVERY: &str = "/.p2/core/v1/gateway";
/// Where the reference server accepts WebSocket upgrades.
pub const SOCKET: &str = "/.p2/core/v1/gateway/socket";

pub const NS_CORE: &str = "core";
pub const NS_MLS: &str = "mls";

/// Opcodes of the `core` namespace (§3.2.1.2), plus `READY` (our profile, see PROFILE.md).
pub mod core_op {
    pub const HEARTBEAT: u16 = 0;
    pub const HELLO: u16 = 1;
    pub const IDENTIFY: u16 = 2;
    pub const NEW_SESSION: u16 = 3;
    pub const CERT_INVALIDATION: u16 = 4;
    pub const RESUME: u16 = 5;
    pub const SERVER_CERT_CHANGE: u16 = 6;
    pub const HEARTBEAT_ACK: u16 = 7;
    pub const SERVICE_CHANNEL: u16 = 8;
    pub const SERVICE_CHANNEL_ACK: u16 = 9;
    pub const RESUMED: u16 = 10;
    pub const HEARTBEAT_REQUEST: u16 = 11;
    /// Confirms a successful identify: the spec names a "ready" event without defining it; the
    /// later upstream drafts use opcode 12 (IdentifyAck). PROFILE.gateway-ready.
    pub const READY: u16 = 12;
}

/// Opcodes of the `mls` namespace: the spec's table is TBD, these are our profile's
/// (PROFILE.gateway-mls-events).
pub mod mls_op {
    /// A proposal was accepted for a group the actor is in.
    pub const PROPOSAL: u16 = 0;
    /// A commit was accepted for a group the actor is in.
    pub const COMMIT: u16 = 1;
    /// A Welcome addressed to the actor.
    pub const WELCOME: u16 = 2;
    /// An application message relayed to a group the actor is in.
    pub const APPLICATION: u16 = 3;
}

/// Close codes of §3.2.5.
pub mod close {
    pub const UNKNOWN_ERROR: u16 = 4000;
    pub const UNKNOWN_OPCODE: u16 = 4001;
    pub const INVALID_PAYLOAD: u16 = 4002;
    pub const NOT_AUTHENTICATED: u16 = 4003;
    pub const INVALID_AUTHENTICATION: u16 = 4004;
    pub const ALREADY_AUTHENTICATED: u16 = 4005;
    pub const INVALID_SEQUENCE: u16 = 4007;
    pub const RATE_LIMITED: u16 = 4008;
    pub const TIMEOUT: u16 = 4009;
    pub const UNRESUMEABLE: u16 = 4010;
}
