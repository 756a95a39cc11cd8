//! ID-Certs judged with the harness's own code (`crate::x509` reads them): signatures against
//! the issuer, and the pDN claims core §6.1.1.1 asks of an actor, never with the reference
//! server's code (`protocol::idcert`), so a bug both sides shared could not pass unseen.

use crate::Error;
use x509_parser::oid_registry::OID_SIG_ED25519;
use x509_parser::prelude::X509Certificate;

pub use crate::x509::{claims, ed25519_key, parse, pem_to_der, PdnClaims};

/// `cert`'s signature verifies with `issuer`'s public key (Ed25519 only, as polyproto's suites
/// sign; anything else is reported, not accepted).
pub fn signed_by(cert: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> Result<(), Error> {
    if cert.signature_algorithm.algorithm != OID_SIG_ED25519 {
        return Err(Error::Malformed(format!(
            "signature algorithm {} is not Ed25519",
            cert.signature_algorithm.algorithm
        )));
    }
    cert.verify_signature(Some(issuer.public_key()))
        .map_err(|e| {
            Error::Malformed(format!(
                "the signature does not verify with the issuer's key: {e}"
            ))
        })
}

/// What core §6.1.1.1 asks of an actor's pDN, for the actor `fid` in session `session_id`.
/// Federation ids compare without regard to case (core §5).
pub fn actor_claims_problems(claims: &PdnClaims, fid: &str, session_id: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let (local, domain) = fid.split_once('@').unwrap_or((fid, ""));
    match &claims.uid {
        Some(uid) if uid.eq_ignore_ascii_case(fid) => {}
        Some(uid) => problems.push(format!("UID is {uid}, not {fid}")),
        None => problems.push("no UID".into()),
    }
    match &claims.session_id {
        Some(sid) if sid == session_id => {}
        Some(sid) => problems.push(format!("uniqueIdentifier is {sid}, not {session_id}")),
        None => problems.push("no uniqueIdentifier".into()),
    }
    match &claims.common_name {
        Some(cn) if cn.eq_ignore_ascii_case(local) => {}
        Some(cn) => problems.push(format!("common name is {cn}, not the local name {local}")),
        None => problems.push("no common name".into()),
    }
    if !claims.domain().eq_ignore_ascii_case(domain) {
        problems.push(format!(
            "domain components spell {:?}, not {domain}",
            claims.domain()
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x509::{OID_DC, OID_UID, OID_UNIQUE_IDENTIFIER};
    use x509_parser::prelude::FromDer;
    use x509_parser::x509::X509Name;

    /// DER written out by hand (X.690): a tag, a length, the content.
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match content.len() {
            n if n < 0x80 => out.push(n as u8),
            n if n <= 0xff => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(content);
        out
    }

    fn oid(dotted: &str) -> Vec<u8> {
        let arcs: Vec<u64> = dotted.split('.').map(|a| a.parse().expect("arc")).collect();
        let mut body = vec![(arcs[0] * 40 + arcs[1]) as u8];
        for &arc in &arcs[2..] {
            let mut groups = vec![(arc & 0x7f) as u8];
            let mut rest = arc >> 7;
            while rest > 0 {
                groups.push(0x80 | (rest & 0x7f) as u8);
                rest >>= 7;
            }
            groups.reverse();
            body.extend(groups);
        }
        tlv(0x06, &body)
    }

    /// Name ::= SEQUENCE OF RelativeDistinguishedName, each a SET of one
    /// AttributeTypeAndValue (RFC 5280 §4.1.2.4), in the order given; IA5String for DC, UID
    /// and the session id (core §6.1.1.3), UTF8String for the common name.
    fn name_der(attributes: &[(&str, &str)]) -> Vec<u8> {
        let mut rdns = Vec::new();
        for (type_oid, value) in attributes {
            let string_tag = if *type_oid == "2.5.4.3" { 0x0c } else { 0x16 };
            let atv = tlv(
                0x30,
                &[oid(type_oid), tlv(string_tag, value.as_bytes())].concat(),
            );
            rdns.extend(tlv(0x31, &atv));
        }
        tlv(0x30, &rdns)
    }

    #[test]
    fn reads_the_claims_core_6_1_1_1_defines() {
        let der = name_der(&[
            (OID_DC, "com"),
            (OID_DC, "example"),
            (OID_DC, "mls"),
            (OID_UID, "xenia@mls.example.com"),
            (OID_UNIQUE_IDENTIFIER, "s1"),
            ("2.5.4.3", "xenia"),
        ]);
        let (_, name) = X509Name::from_der(&der).expect("a Name");
        let claims = claims(&name).expect("claims");
        assert_eq!(claims.domain(), "mls.example.com");
        assert_eq!(claims.uid.as_deref(), Some("xenia@mls.example.com"));
        assert_eq!(claims.session_id.as_deref(), Some("s1"));
        assert_eq!(claims.common_name.as_deref(), Some("xenia"));
        assert!(actor_claims_problems(&claims, "Xenia@mls.example.com", "s1").is_empty());
        let problems = actor_claims_problems(&claims, "xenia@other.example", "s2");
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn a_claim_given_twice_is_refused() {
        let der = name_der(&[(OID_UID, "a@x"), (OID_UID, "b@x")]);
        let (_, name) = X509Name::from_der(&der).expect("a Name");
        assert!(claims(&name)
            .unwrap_err()
            .to_string()
            .contains("more than once"));
    }

    #[test]
    fn signatures_and_keys_of_a_third_party_certificate() {
        // rcgen (not the server's builder) makes an Ed25519 self-signed certificate.
        let make = || {
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("key");
            rcgen::CertificateParams::new(vec!["x.example".to_owned()])
                .expect("params")
                .self_signed(&key)
                .expect("cert")
                .der()
                .to_vec()
        };
        let (one, two) = (make(), make());
        let (one, two) = (parse(&one).expect("one"), parse(&two).expect("two"));
        assert!(signed_by(&one, &one).is_ok());
        assert!(signed_by(&one, &two).is_err());
        assert_eq!(ed25519_key(&one).map(|k| k.len()).ok(), Some(32));
    }
}
