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

/// `cert` is self-signed, checked with ed25519-dalek on the raw TBSCertificate bytes: a second
/// verifier beside x509-parser's (`signed_by`), so a root whose signature only one library
/// accepts is not taken.
pub fn self_signature_problem(cert: &X509Certificate<'_>) -> Option<String> {
    if cert.signature_algorithm.algorithm != OID_SIG_ED25519 {
        return Some(format!(
            "signature algorithm {} is not Ed25519",
            cert.signature_algorithm.algorithm
        ));
    }
    let key = match ed25519_key(cert)
        .ok()
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .map(|k| ed25519_dalek::VerifyingKey::from_bytes(&k))
    {
        Some(Ok(key)) => key,
        _ => return Some("the subject key is not an Ed25519 public key".into()),
    };
    let Ok(signature) = ed25519_dalek::Signature::from_slice(&cert.signature_value.data) else {
        return Some(format!(
            "the signature is {} bytes, not an Ed25519 signature",
            cert.signature_value.data.len()
        ));
    };
    let tbs: &[u8] = cert.tbs_certificate.as_ref();
    key.verify_strict(tbs, &signature).err().map(|_| {
        "the self-signature does not verify over the TBSCertificate (ed25519-dalek)".into()
    })
}

/// The current UNIX time.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `notBefore <= now <= notAfter` (core §6.1: receivers check the validity period).
pub fn validity_problem(cert: &X509Certificate<'_>, now: i64) -> Option<String> {
    let (from, until) = (cert.validity().not_before, cert.validity().not_after);
    if from.timestamp() <= now && now <= until.timestamp() {
        return None;
    }
    let when = if now < from.timestamp() {
        "not yet valid"
    } else {
        "expired"
    };
    Some(format!(
        "{when}: valid {from} to {until}, now is {}",
        x509_parser::time::ASN1Time::from_timestamp(now)
            .map_or_else(|_| now.to_string(), |t| t.to_string())
    ))
}

/// A cache window (`cacheNotValidBefore`, `cacheNotValidAfter`, core §6.4) holds `now`, with a
/// minute of leeway for clocks that differ.
pub fn cache_window_problem(before: u64, after: u64, now: i64) -> Option<String> {
    let now = u64::try_from(now).unwrap_or(0);
    (now + 60 < before || now > after + 60 || before > after)
        .then(|| format!("the cache window [{before}, {after}] does not hold now ({now})"))
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
    #[test]
    fn a_flipped_signature_an_expired_period_and_a_stale_cache_window_are_seen() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("key");
        let mut params =
            rcgen::CertificateParams::new(vec!["x.example".to_owned()]).expect("params");
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        let mut der = params.self_signed(&key).expect("cert").der().to_vec();
        let cert = parse(&der).expect("cert");
        assert_eq!(self_signature_problem(&cert), None);
        let expired = validity_problem(&cert, unix_now()).expect("expired");
        assert!(expired.starts_with("expired"), "{expired}");
        assert!(validity_problem(&cert, 978_000_000).is_none());
        assert!(validity_problem(&cert, 900_000_000)
            .expect("early")
            .starts_with("not yet valid"));
        *der.last_mut().expect("bytes") ^= 1;
        let flipped = parse(&der).expect("cert");
        assert!(self_signature_problem(&flipped).is_some());
        assert_eq!(cache_window_problem(100, 200, 150), None);
        assert!(cache_window_problem(100, 200, 300).is_some());
        assert!(cache_window_problem(1000, 2000, 500).is_some());
        assert!(cache_window_problem(200, 100, 150).is_some());
    }

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
        assert_eq!(self_signature_problem(&one), None);
        assert_eq!(validity_problem(&one, unix_now()), None);
        assert_eq!(ed25519_key(&one).map(|k| k.len()).ok(), Some(32));
    }
}
