//! Route paths. polyproto namespaces live under `/.p2/<namespace>/v<major>/`.

/// Base path of the polyproto-mls HTTP API.
pub const MLS_BASE: &str = "/.p2/mls/v1";
/// Base path of the polyproto-core HTTP API.
pub const CORE_BASE: &str = "/.p2/core/v1";

/// Our own namespace for what the specifications leave undefined (actor registration).
pub const REGISTER: &str = "/.p2/p2mls/v1/register";
/// Core: an actor asks the home server to sign an ID-CSR.
pub const IDCERT: &str = "/.p2/core/v1/idcert";
/// Core: the home server's own ID-Cert.
pub const SERVER_IDCERT: &str = "/.p2/core/v1/idcert/server";

/// Header carrying the second factor of a sensitive action (polyproto-core 4.1.2).
pub const SENSITIVE_SOLUTION_HEADER: &str = "X-P2-Sensitive-Solution";
