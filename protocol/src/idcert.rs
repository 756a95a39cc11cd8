//! polyproto ID-Certs (polyproto-core §6.1): X.509 v3 certificates that a home server issues to
//! an actor's session for one Ed25519 identity key.
//!
//! A polyproto Distinguished Name (pDN) of an actor holds CN = local name, UID = federation id,
//! uniqueIdentifier = session id and the home server's domain as DC components; a home server's
//! pDN holds only the DC components. Certificates are built with rcgen and read with x509-parser.

use ed25519_dalek::pkcs8::EncodePrivateKey;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use thiserror::Error;
use x509_parser::prelude::{FromDer, X509Certificate, X509CertificationRequest, X509Name};

/// OID of the LDAP `UID` attribute (federation id).
pub const OID_UID: &[u64] = &[0, 9, 2342, 19200300, 100, 1, 1];
/// OID of the `uniqueIdentifier` attribute (session id).
pub const OID_UNIQUE_IDENTIFIER: &[u64] = &[0, 9, 2342, 19200300, 100, 1, 44];
/// OID of the `domainComponent` attribute.
pub const OID_DOMAIN_COMPONENT: &[u64] = &[0, 9, 2342, 19200300, 100, 1, 25];
const OID_CN: &str = "2.5.4.3";

/// What went wrong with an ID-CSR or ID-Cert.
#[derive(Debug, Error)]
pub enum IdCertError {
    #[error("not a PEM or DER encoded {0}")]
    Encoding(&'static str),
    #[error("the certificate signing request's signature or structure is invalid: {0}")]
    InvalidCsr(String),
    #[error("the pDN lacks the {0} attribute")]
    MissingAttribute(&'static str),
    #[error("the pDN's {0} attribute is invalid: {1}")]
    InvalidAttribute(&'static str, String),
    #[error("session id must be 1-32 IA5 characters")]
    InvalidSessionId,
    #[error("the key is not an Ed25519 key")]
    NotEd25519,
    #[error("the certificate signature does not verify against the issuer key")]
    BadSignature,
    #[error("certificate generation failed: {0}")]
    Generation(String),
}

/// The claims of an actor's pDN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorName {
    pub local_name: String,
    pub domain: String,
    pub session_id: String,
}

impl ActorName {
    /// The federation id `local@domain`.
    pub fn fid(&self) -> String {
        format!("{}@{}", self.local_name, self.domain)
    }
}

/// A parsed actor ID-Cert: the claims a relying party needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdCertInfo {
    pub name: ActorName,
    /// Raw 32-byte Ed25519 public key of the subject.
    pub public_key: Vec<u8>,
    /// DC components of the issuer, in certificate order.
    pub issuer_domain: String,
    pub is_ca: bool,
    pub not_before: i64,
    pub not_after: i64,
}

/// Checks the session id format of polyproto-core §6.1.1.3.
pub fn valid_session_id(session_id: &str) -> bool {
    (1..=32).contains(&session_id.len()) && session_id.is_ascii()
}

/// Adds the domain's DC component. rcgen keeps one value per attribute type, so a DN built here
/// can hold one DC only: multi-label domains are refused rather than encoded wrongly (see
/// docs/DESIGN.md, "ID-Cert generation"). Parsing (x509-parser) handles any number of DCs.
fn domain_components(domain: &str, dn: &mut DistinguishedName) -> Result<(), IdCertError> {
    if domain.is_empty() || domain.contains('.') {
        return Err(IdCertError::InvalidAttribute(
            "dc",
            format!("`{domain}`: only single-label domains can be generated"),
        ));
    }
    for label in domain.split('.') {
        let value = rcgen::string::Ia5String::try_from(label.to_owned())
            .map_err(|e| IdCertError::InvalidAttribute("dc", e.to_string()))?;
        dn.push(
            DnType::CustomDnType(OID_DOMAIN_COMPONENT.to_vec()),
            DnValue::Ia5String(value),
        );
    }
    Ok(())
}

fn actor_dn(name: &ActorName) -> Result<DistinguishedName, IdCertError> {
    if !valid_session_id(&name.session_id) {
        return Err(IdCertError::InvalidSessionId);
    }
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name.local_name.clone());
    dn.push(DnType::CustomDnType(OID_UID.to_vec()), name.fid());
    let session = rcgen::string::Ia5String::try_from(name.session_id.clone())
        .map_err(|_| IdCertError::InvalidSessionId)?;
    dn.push(
        DnType::CustomDnType(OID_UNIQUE_IDENTIFIER.to_vec()),
        DnValue::Ia5String(session),
    );
    domain_components(&name.domain, &mut dn)?;
    Ok(dn)
}

/// Wraps an Ed25519 signing key for rcgen.
pub fn rcgen_key(key: &ed25519_dalek::SigningKey) -> Result<KeyPair, IdCertError> {
    let der = key
        .to_pkcs8_der()
        .map_err(|e| IdCertError::Generation(e.to_string()))?;
    KeyPair::try_from(der.as_bytes()).map_err(|e| IdCertError::Generation(e.to_string()))
}

/// Builds a PEM ID-CSR for an actor session, signed with the session's identity key.
pub fn build_csr(name: &ActorName, key: &ed25519_dalek::SigningKey) -> Result<String, IdCertError> {
    build_csr_requesting(name, key, false)
}

/// Builds a PEM ID-CSR; with `ca` it requests what an actor must never get (Basic Constraints
/// CA true and keyCertSign), which a home server must refuse.
pub fn build_csr_requesting(
    name: &ActorName,
    key: &ed25519_dalek::SigningKey,
    ca: bool,
) -> Result<String, IdCertError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = actor_dn(name)?;
    if ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    } else {
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    }
    let key_pair = rcgen_key(key)?;
    params
        .serialize_request(&key_pair)
        .and_then(|csr| csr.pem())
        .map_err(|e| IdCertError::Generation(e.to_string()))
}

/// The same PEM CSR with one bit of its signature flipped (the signature is the DER's last
/// field): a forged ID-CSR whose self-signature no longer verifies.
pub fn csr_with_flipped_signature(pem: &str) -> Result<String, IdCertError> {
    use base64::Engine as _;
    let mut der = pem_contents(pem, "CERTIFICATE REQUEST")?;
    let last = der
        .last_mut()
        .ok_or(IdCertError::Encoding("certificate signing request"))?;
    *last ^= 0x01;
    let body = base64::engine::general_purpose::STANDARD.encode(&der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    Ok(format!(
        "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
        lines.join("\n")
    ))
}

/// Whether issued certificates follow polyproto-core §6.1.1.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertProfile {
    Polyproto,
    /// Root without CA flags, actor certificates with them: fault injection only.
    Broken,
}

/// The home server's signing identity: its root ID-Cert and key.
pub struct ServerIdentity {
    profile: CertProfile,
    params: CertificateParams,
    key: KeyPair,
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    pub domain: String,
}

impl ServerIdentity {
    /// Creates a self-signed root ID-Cert for `domain` (CA, path length 0, keyCertSign).
    pub fn new(domain: &str, key: &ed25519_dalek::SigningKey) -> Result<Self, IdCertError> {
        Self::with_profile(domain, key, CertProfile::Polyproto)
    }

    /// As `new`; `CertProfile::Broken` makes certificates that break polyproto-core §6.1 (a root
    /// without CA flags, actor certificates with them), for fault injection only.
    pub fn with_profile(
        domain: &str,
        key: &ed25519_dalek::SigningKey,
        profile: CertProfile,
    ) -> Result<Self, IdCertError> {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        domain_components(domain, &mut dn)?;
        params.distinguished_name = dn;
        if profile == CertProfile::Polyproto {
            params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        } else {
            params.is_ca = IsCa::ExplicitNoCa;
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        }
        params.serial_number = Some(SerialNumber::from_slice(&[1]));
        let key = rcgen_key(key)?;
        let cert = params
            .self_signed(&key)
            .map_err(|e| IdCertError::Generation(e.to_string()))?;
        Ok(Self {
            profile,
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            params,
            key,
            domain: domain.to_owned(),
        })
    }

    /// Signs an actor certificate for the already verified `csr`, with fresh extensions chosen by
    /// the server (nothing requested beyond the pDN and key is copied).
    pub fn issue(
        &self,
        csr: &VerifiedCsr,
        serial: &[u8],
        validity_seconds: i64,
    ) -> Result<(String, Vec<u8>), IdCertError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = actor_dn(&csr.name)?;
        if self.profile == CertProfile::Polyproto {
            params.is_ca = IsCa::ExplicitNoCa;
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        } else {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        }
        params.serial_number = Some(SerialNumber::from_slice(serial));
        let now = time_now();
        params.not_before = now - std::time::Duration::from_secs(60);
        params.not_after = now + std::time::Duration::from_secs(validity_seconds.max(1) as u64);
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params
            .signed_by(&csr.subject_key, &issuer)
            .map_err(|e| IdCertError::Generation(e.to_string()))?;
        Ok((cert.pem(), cert.der().to_vec()))
    }
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// A CSR whose self-signature verified, whose pDN follows polyproto-core §6.1.1.1 and which
/// requests nothing an actor certificate must not have (§6.1.1.2).
pub struct VerifiedCsr {
    pub name: ActorName,
    pub public_key: Vec<u8>,
    subject_key: rcgen::SubjectPublicKeyInfo,
}

/// Parses a PEM ID-CSR and verifies every claim it makes: the self-signature, an Ed25519 key,
/// the pDN (CN, UID = CN@domain, a valid session id, DCs) and no request for CA true or
/// keyCertSign. Whether the claims fit the caller and this server is the server's part.
pub fn verify_csr(pem: &str) -> Result<VerifiedCsr, IdCertError> {
    let der = pem_contents(pem, "CERTIFICATE REQUEST")?;
    let (_, csr) = X509CertificationRequest::from_der(&der)
        .map_err(|_| IdCertError::Encoding("certificate signing request"))?;
    csr.verify_signature()
        .map_err(|_| IdCertError::InvalidCsr("the self-signature does not verify".into()))?;
    if requests_ca(&csr) {
        return Err(IdCertError::InvalidCsr(
            "it requests CA true or keyCertSign, which an actor certificate must not have".into(),
        ));
    }
    let info = &csr.certification_request_info;
    let public_key = ed25519_key(
        info.subject_pki.algorithm.algorithm.to_id_string().as_str(),
        &info.subject_pki.subject_public_key.data,
    )?;
    Ok(VerifiedCsr {
        name: actor_name(&info.subject)?,
        public_key,
        subject_key: subject_key(&csr)?,
    })
}

/// Reads a PEM ID-CSR believing every claim: no signature, extension, UID or session-id check.
/// Only the fault `issue-unverified-csr` of the reference server uses it.
pub fn read_csr_unverified(pem: &str) -> Result<VerifiedCsr, IdCertError> {
    let der = pem_contents(pem, "CERTIFICATE REQUEST")?;
    let (_, csr) = X509CertificationRequest::from_der(&der)
        .map_err(|_| IdCertError::Encoding("certificate signing request"))?;
    let info = &csr.certification_request_info;
    let first = |oid: &str| attributes(&info.subject, oid).into_iter().next();
    let name = ActorName {
        local_name: first(OID_CN).unwrap_or_default(),
        domain: domain_of(&info.subject).unwrap_or_default(),
        session_id: first(&oid_string(OID_UNIQUE_IDENTIFIER)).unwrap_or_default(),
    };
    Ok(VerifiedCsr {
        name,
        public_key: info.subject_pki.subject_public_key.data.to_vec(),
        subject_key: subject_key(&csr)?,
    })
}

fn subject_key(
    csr: &X509CertificationRequest<'_>,
) -> Result<rcgen::SubjectPublicKeyInfo, IdCertError> {
    rcgen::SubjectPublicKeyInfo::from_der(csr.certification_request_info.subject_pki.raw)
        .map_err(|e| IdCertError::InvalidCsr(format!("unusable subject key: {e}")))
}

/// Whether the CSR's extension request asks for Basic Constraints CA true or keyCertSign.
fn requests_ca(csr: &X509CertificationRequest<'_>) -> bool {
    use x509_parser::extensions::ParsedExtension;
    csr.requested_extensions()
        .into_iter()
        .flatten()
        .any(|ext| match ext {
            ParsedExtension::BasicConstraints(bc) => bc.ca,
            ParsedExtension::KeyUsage(ku) => ku.key_cert_sign(),
            _ => false,
        })
}

fn ed25519_key(alg_oid: &str, data: &[u8]) -> Result<Vec<u8>, IdCertError> {
    // id-Ed25519, RFC 8410
    if alg_oid != "1.3.101.112" || data.len() != 32 {
        return Err(IdCertError::NotEd25519);
    }
    Ok(data.to_vec())
}

fn pem_contents(pem: &str, label: &'static str) -> Result<Vec<u8>, IdCertError> {
    let parsed = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|_| IdCertError::Encoding(label))?
        .1;
    Ok(parsed.contents)
}

fn attributes(name: &X509Name<'_>, oid: &str) -> Vec<String> {
    name.iter_attributes()
        .filter(|a| a.attr_type().to_id_string() == oid)
        .filter_map(|a| a.as_str().ok().map(str::to_owned))
        .collect()
}

fn oid_string(oid: &[u64]) -> String {
    oid.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

fn single(name: &X509Name<'_>, oid: &str, what: &'static str) -> Result<String, IdCertError> {
    let mut values = attributes(name, oid);
    match values.len() {
        0 => Err(IdCertError::MissingAttribute(what)),
        1 => Ok(values.remove(0)),
        _ => Err(IdCertError::InvalidAttribute(what, "repeated".into())),
    }
}

fn domain_of(name: &X509Name<'_>) -> Result<String, IdCertError> {
    let dcs = attributes(name, &oid_string(OID_DOMAIN_COMPONENT));
    if dcs.is_empty() {
        return Err(IdCertError::MissingAttribute("dc"));
    }
    Ok(dcs.join("."))
}

/// Reads and checks the actor claims of a pDN: CN = local name, UID = CN@domain, session id.
fn actor_name(subject: &X509Name<'_>) -> Result<ActorName, IdCertError> {
    let local_name = single(subject, OID_CN, "cn")?;
    let uid = single(subject, &oid_string(OID_UID), "uid")?;
    let session_id = single(
        subject,
        &oid_string(OID_UNIQUE_IDENTIFIER),
        "uniqueIdentifier",
    )?;
    let domain = domain_of(subject)?;
    let name = ActorName {
        local_name,
        domain,
        session_id,
    };
    if uid != name.fid() {
        return Err(IdCertError::InvalidAttribute(
            "uid",
            format!("`{uid}` is not `{}`", name.fid()),
        ));
    }
    if !valid_session_id(&name.session_id) {
        return Err(IdCertError::InvalidSessionId);
    }
    Ok(name)
}

/// Parses a DER actor ID-Cert and verifies its signature against the issuer's DER certificate.
pub fn verify_actor_cert(der: &[u8], issuer_der: &[u8]) -> Result<IdCertInfo, IdCertError> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|_| IdCertError::Encoding("certificate"))?;
    let (_, issuer) =
        X509Certificate::from_der(issuer_der).map_err(|_| IdCertError::Encoding("certificate"))?;
    cert.verify_signature(Some(issuer.public_key()))
        .map_err(|_| IdCertError::BadSignature)?;
    let spki = cert.public_key();
    let public_key = ed25519_key(
        spki.algorithm.algorithm.to_id_string().as_str(),
        &spki.subject_public_key.data,
    )?;
    let issuer_domain = domain_of(cert.issuer())?;
    let name = actor_name(cert.subject())?;
    if issuer_domain != name.domain {
        return Err(IdCertError::InvalidAttribute(
            "dc",
            "issuer and subject domain components differ".into(),
        ));
    }
    Ok(IdCertInfo {
        name,
        public_key,
        issuer_domain,
        is_ca: cert.is_ca(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
    })
}

/// Reads the actor claims of a DER ID-Cert without verifying who issued it.
pub fn actor_name_of(der: &[u8]) -> Result<ActorName, IdCertError> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|_| IdCertError::Encoding("certificate"))?;
    actor_name(cert.subject())
}

/// Decodes the first PEM certificate in `pem` to DER.
pub fn cert_pem_to_der(pem: &str) -> Result<Vec<u8>, IdCertError> {
    pem_contents(pem, "CERTIFICATE")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
    }

    fn alice() -> ActorName {
        ActorName {
            local_name: "alice".into(),
            domain: "example".into(),
            session_id: "s1".into(),
        }
    }

    #[test]
    fn csr_to_cert_round_trip() {
        let server = ServerIdentity::new("example", &key(1)).expect("server");
        let csr = verify_csr(&build_csr(&alice(), &key(2)).expect("csr")).expect("verify");
        assert_eq!(csr.name, alice());
        assert_eq!(csr.public_key, key(2).verifying_key().to_bytes().to_vec());
        let (_, der) = server.issue(&csr, &[5, 6], 3600).expect("issue");
        let info = verify_actor_cert(&der, &server.cert_der).expect("valid");
        assert_eq!(info.name.fid(), "alice@example");
        assert_eq!(info.public_key, key(2).verifying_key().to_bytes().to_vec());
        assert!(!info.is_ca);
    }

    #[test]
    fn cert_from_another_server_is_rejected() {
        let server = ServerIdentity::new("example", &key(1)).expect("server");
        let other = ServerIdentity::new("example", &key(3)).expect("other");
        let csr = verify_csr(&build_csr(&alice(), &key(2)).expect("csr")).expect("verify");
        let (_, der) = other.issue(&csr, &[1], 3600).expect("issue");
        assert!(matches!(
            verify_actor_cert(&der, &server.cert_der),
            Err(IdCertError::BadSignature)
        ));
    }

    #[test]
    fn forged_csrs_are_refused_and_only_the_unverified_reader_takes_them() {
        let good = build_csr(&alice(), &key(2)).expect("csr");
        let flipped = csr_with_flipped_signature(&good).expect("flip");
        let ca = build_csr_requesting(&alice(), &key(2), true).expect("ca csr");
        assert!(verify_csr(&good).is_ok());
        let err = verify_csr(&flipped)
            .err()
            .expect("flipped signature refused");
        assert!(err.to_string().contains("self-signature"), "{err}");
        let err = verify_csr(&ca).err().expect("CA request refused");
        assert!(err.to_string().contains("keyCertSign"), "{err}");
        for pem in [&flipped, &ca] {
            let read = read_csr_unverified(pem).expect("unverified read");
            assert_eq!(read.name, alice());
        }
    }

    #[test]
    fn csr_with_bad_session_id_is_refused() {
        let mut name = alice();
        name.session_id = "x".repeat(33);
        assert!(build_csr(&name, &key(2)).is_err());
        assert!(verify_csr(
            "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
        )
        .is_err());
    }
}
