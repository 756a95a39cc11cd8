//! Route paths. polyproto namespaces live under `/.p2/<namespace>/v<major>/`.
//!
//! Paths with parameters are functions of their segments: a client passes the values, the
//! reference server passes axum's `{name}` placeholders to build its route table from the same
//! definition (`group("{group_id}")`). Segments are inserted as given (no percent-encoding):
//! group ids are the server's own tokens and FIDs have no reserved characters.

/// Base path of the polyproto-mls HTTP API.
pub const MLS_BASE: &str = "/.p2/mls/v1";
/// Base path of the polyproto-core HTTP API.
pub const CORE_BASE: &str = "/.p2/core/v1";

/// Core 3.1: where a client finds the polyproto API of a (visible) domain.
pub const WELL_KNOWN_CORE: &str = "/.well-known/polyproto-core";
/// The path of the polyproto-core API that the well-known document points at (core 3.1).
pub const CORE_API: &str = "/.p2/core/";

/// Our own namespace for what the specifications leave undefined (actor registration).
pub const REGISTER: &str = "/.p2/p2mls/v1/register";
/// Core: an actor asks the home server to sign an ID-CSR.
pub const IDCERT: &str = "/.p2/core/v1/idcert";
/// Core 6.1.3: the ID-Certs of an actor of this server (`notBefore`, `notAfter`, `session_id`
/// filters).
pub fn actor_idcerts(fid: &str) -> String {
    format!("{CORE_BASE}/idcert/actor/{fid}")
}
/// Core beta.3 `Registered_deleteSession`: `DELETE` with `?session_id=` revokes one of the
/// caller's sessions (a sensitive action).
pub const SESSION: &str = "/.p2/core/v1/session";
/// Core: the home server's own ID-Cert.
pub const SERVER_IDCERT: &str = "/.p2/core/v1/idcert/server";

/// Core 6.3 (core beta.3's `Registered_uploadEncryptedPKM`, `Registered_getEncryptedPKM`,
/// `Registered_deleteEncryptedPKM`): an actor's encrypted private key material; `GET` and
/// `DELETE` take `serials`, comma-separated ID-Cert serial numbers.
pub const KEY_MATERIAL: &str = "/.p2/core/v1/session/keymaterial";
/// Core beta.3's `Registered_encryptedPKMsizeLimit`: the upload limit of `KEY_MATERIAL`, in
/// bytes, in the `X-MAX-PAYLOAD-SIZE` header.
pub const KEY_MATERIAL_SIZE: &str = "/.p2/core/v1/session/keymaterial/size";
/// The header `KEY_MATERIAL_SIZE` answers with.
pub const MAX_PAYLOAD_SIZE_HEADER: &str = "X-MAX-PAYLOAD-SIZE";

/// Header carrying the second factor of a sensitive action (polyproto-core §4.2; the core API
/// document links it as 4.1.2).
pub const SENSITIVE_SOLUTION_HEADER: &str = "X-P2-Sensitive-Solution";

// The polyproto-mls API of the OpenAPI document.

/// `POST`: upload a batch of KeyPackages.
pub const KEYPACKAGES: &str = "/.p2/mls/v1/keypackages";
/// `POST`: create a group.
pub const GROUPS: &str = "/.p2/mls/v1/groups";

/// `GET`: discover (and consume) an actor's KeyPackages.
pub fn keypackages_of(fid: &str) -> String {
    format!("{KEYPACKAGES}/{fid}")
}

/// `GET`: a group.
pub fn group(group_id: &str) -> String {
    format!("{GROUPS}/{group_id}")
}

/// `POST`: submit a commit; `GET` (profile, PROFILE.commit-history): commits after `?since=`.
pub fn group_commits(group_id: &str) -> String {
    format!("{GROUPS}/{group_id}/commits")
}

/// `GET`: the commit that created the current epoch.
pub fn group_latest_commit(group_id: &str) -> String {
    format!("{GROUPS}/{group_id}/commits/latest")
}

/// `GET`: the members.
pub fn group_members(group_id: &str) -> String {
    format!("{GROUPS}/{group_id}/members")
}

/// `GET`: one member by FID.
pub fn group_member(group_id: &str, member_id: &str) -> String {
    format!("{GROUPS}/{group_id}/members/{member_id}")
}

/// `POST`: submit a proposal; `GET`: the pending proposals.
pub fn group_proposals(group_id: &str) -> String {
    format!("{GROUPS}/{group_id}/proposals")
}

// The profile's relay routes (PROFILE.welcome-delivery, PROFILE.message-relay), which the
// published document lacks.

/// `GET`: Welcomes addressed to the caller.
pub const WELCOMES: &str = "/.p2/mls/v1/welcomes";

/// `POST`: relay an application message; `GET`: messages after `?since=`.
pub fn group_messages(group_id: &str) -> String {
    format!("{GROUPS}/{group_id}/messages")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mls_paths_live_under_the_mls_base() {
        for path in [
            KEYPACKAGES.to_owned(),
            GROUPS.to_owned(),
            WELCOMES.to_owned(),
            keypackages_of("a@b"),
            group_member("g", "a@b"),
            group_messages("g"),
        ] {
            assert!(path.starts_with(&format!("{MLS_BASE}/")), "{path}");
        }
        assert_eq!(
            group_commits("{group_id}"),
            "/.p2/mls/v1/groups/{group_id}/commits"
        );
    }
}
