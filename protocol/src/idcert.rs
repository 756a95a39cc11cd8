//! polyproto ID-Certs (polyproto-core §6.1): X.509 v3 certificates that a home server issues to
//! an actor's session for one Ed25519 identity key.
//!
//! A polyproto Distinguished Name (pDN) of an actor holds the home server's domain as DC
//! components, UID = federation id, uniqueIdentifier = session id and CN = local name; a home
//! server's pDN holds only the DC components. Each RDN holds one attribute.
//!
//! Certificates and ID-CSRs are built typed with the RustCrypto `x509-cert` crate, DER-encoded
//! and signed with the Ed25519 key directly; they are read and verified with x509-parser.
//!
//! DC order: a domain's labels are written most significant first, so `mls.example.com` becomes
//! the RDNs DC=com, DC=example, DC=mls in DER order (RFC 4514 / RFC 2247: the string form
//! `DC=mls,DC=example,DC=com` lists RDNs in reverse). Readers join the DC values in reverse DER
//! order with `.` to get the domain back.

use crate::Error;
use der::asn1::{
    Any, BitString, GeneralizedTime, Ia5StringRef, ObjectIdentifier, OctetString, SetOfVec,
    UtcTime, Utf8StringRef,
};
use der::oid::AssociatedOid;
use der::{DateTime, Encode, EncodePem};
use ed25519_dalek::Signer as _;
use x509_cert::attr::{Attribute, AttributeTypeAndValue};
use x509_cert::der;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier};
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::request::{CertReq, CertReqInfo, ExtensionReq};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate};
use x509_parser::prelude::{FromDer, X509Certificate, X509CertificationRequest, X509Name};

/// OID of the LDAP `UID` attribute (federation id).
pub const OID_UID: &[u64] = &[0, 9, 2342, 19200300, 100, 1, 1];
/// OID of the `uniqueIdentifier` attribute (session id).
pub const OID_UNIQUE_IDENTIFIER: &[u64] = &[0, 9, 2342, 19200300, 100, 1, 44];
/// OID of the `domainComponent` attribute.
pub const OID_DOMAIN_COMPONENT: &[u64] = &[0, 9, 2342, 19200300, 100, 1, 25];
const OID_CN: &str = "2.5.4.3";

const UID: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.9.2342.19200300.100.1.1");
const UNIQUE_IDENTIFIER: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("0.9.2342.19200300.100.1.44");
const DOMAIN_COMPONENT: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("0.9.2342.19200300.100.1.25");
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
/// id-Ed25519 (RFC 8410), as signature algorithm and key algorithm; parameters absent.
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

impl From<der::Error> for Error {
    fn from(e: der::Error) -> Self {
        Error::Generation(e.to_string())
    }
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
    /// The issuer's domain: its DC components joined with `.` in reverse DER order.
    pub issuer_domain: String,
    pub is_ca: bool,
    pub not_before: i64,
    pub not_after: i64,
}

/// Checks the session id format of polyproto-core §6.1.1.3.
pub fn valid_session_id(session_id: &str) -> bool {
    (1..=32).contains(&session_id.len()) && session_id.is_ascii()
}

/// Checks that `domain` can be written as DC components: non-empty, and every `.`-separated
/// label a non-empty IA5 (ASCII) string.
pub fn check_domain(domain: &str) -> Result<(), Error> {
    let refuse = |why| Err(Error::InvalidDomain(domain.to_owned(), why));
    if domain.is_empty() {
        return refuse("it is empty");
    }
    if domain.split('.').any(str::is_empty) {
        return refuse("it has an empty label");
    }
    if !domain.is_ascii() {
        return refuse("a label is not an IA5 (ASCII) string");
    }
    Ok(())
}

/// One RDN holding one attribute.
fn rdn(oid: ObjectIdentifier, value: Any) -> Result<RelativeDistinguishedName, Error> {
    Ok(RelativeDistinguishedName::try_from(vec![
        AttributeTypeAndValue { oid, value },
    ])?)
}

fn ia5(value: &str) -> Result<Any, der::Error> {
    Any::encode_from(&Ia5StringRef::new(value)?)
}

fn utf8(value: &str) -> Result<Any, der::Error> {
    Any::encode_from(&Utf8StringRef::new(value)?)
}

/// The domain's DC RDNs in DER order: most significant label first (`com`, `example`, `mls` for
/// `mls.example.com`).
fn domain_components(domain: &str) -> Result<Vec<RelativeDistinguishedName>, Error> {
    check_domain(domain)?;
    domain
        .rsplit('.')
        .map(|label| {
            let value =
                ia5(label).map_err(|e| Error::InvalidAttribute("dc", format!("`{label}`: {e}")))?;
            rdn(DOMAIN_COMPONENT, value)
        })
        .collect()
}

/// An actor's pDN in DER order: DCs, UID, uniqueIdentifier, CN.
fn actor_dn(name: &ActorName) -> Result<Name, Error> {
    if !valid_session_id(&name.session_id) {
        return Err(Error::InvalidSessionId);
    }
    let mut rdns = domain_components(&name.domain)?;
    let fid = utf8(&name.fid()).map_err(|e| Error::InvalidAttribute("uid", e.to_string()))?;
    rdns.push(rdn(UID, fid)?);
    let session = ia5(&name.session_id).map_err(|_| Error::InvalidSessionId)?;
    rdns.push(rdn(UNIQUE_IDENTIFIER, session)?);
    let cn = utf8(&name.local_name).map_err(|e| Error::InvalidAttribute("cn", e.to_string()))?;
    rdns.push(rdn(COMMON_NAME, cn)?);
    Ok(RdnSequence(rdns))
}

fn ed25519_algorithm() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ED25519,
        parameters: None,
    }
}

fn ed25519_spki(key: &ed25519_dalek::VerifyingKey) -> Result<SubjectPublicKeyInfoOwned, Error> {
    ed25519_spki_bytes(key.as_bytes())
}

/// An Ed25519 SubjectPublicKeyInfo holding the 32 bytes as they are, whatever point they encode.
fn ed25519_spki_bytes(key: &[u8; 32]) -> Result<SubjectPublicKeyInfoOwned, Error> {
    Ok(SubjectPublicKeyInfoOwned {
        algorithm: ed25519_algorithm(),
        subject_public_key: BitString::from_bytes(key)?,
    })
}

/// Signs DER bytes with Ed25519: the signature as a BIT STRING.
fn sign(key: &ed25519_dalek::SigningKey, der: &[u8]) -> Result<BitString, Error> {
    Ok(BitString::from_bytes(&key.sign(der).to_bytes())?)
}

fn extension<T: Encode + AssociatedOid>(value: &T, critical: bool) -> Result<Extension, Error> {
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

/// Critical KeyUsage with the given bits.
fn key_usage(usages: impl Into<der::flagset::FlagSet<KeyUsages>>) -> Result<Extension, Error> {
    extension(&KeyUsage(usages.into()), true)
}

/// Critical Basic Constraints.
fn basic_constraints(ca: bool, path_len: Option<u8>) -> Result<Extension, Error> {
    extension(
        &BasicConstraints {
            ca,
            path_len_constraint: path_len,
        },
        true,
    )
}

/// Subject Key Identifier: the first 160 bits of the SHA-256 of the subject's SPKI DER (what
/// rcgen wrote before, RFC 7093 §2 method 1 over the whole SPKI).
fn subject_key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Result<Extension, Error> {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(spki.to_der()?);
    extension(
        &SubjectKeyIdentifier(OctetString::new(&digest[..20])?),
        false,
    )
}

/// An X.509 Time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5).
/// (`Time::try_from(SystemTime)` would always give GeneralizedTime.)
fn x509_time(date: DateTime) -> Result<Time, Error> {
    Ok(if date.year() <= UtcTime::MAX_YEAR {
        Time::UtcTime(UtcTime::from_date_time(date)?)
    } else {
        Time::GeneralTime(GeneralizedTime::from_date_time(date))
    })
}

/// Whole UNIX seconds as a date.
fn unix_date(unix_seconds: u64) -> Result<DateTime, Error> {
    Ok(DateTime::from_unix_duration(
        std::time::Duration::from_secs(unix_seconds),
    )?)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Builds a PEM ID-CSR for an actor session, signed with the session's identity key.
pub fn build_csr(name: &ActorName, key: &ed25519_dalek::SigningKey) -> Result<String, Error> {
    build_csr_requesting(name, key, false)
}

/// Builds a PEM ID-CSR; with `ca` it requests what an actor must never get (Basic Constraints
/// CA true and keyCertSign), which a home server must refuse.
pub fn build_csr_requesting(
    name: &ActorName,
    key: &ed25519_dalek::SigningKey,
    ca: bool,
) -> Result<String, Error> {
    let requested = if ca {
        vec![
            key_usage(KeyUsages::KeyCertSign)?,
            basic_constraints(true, None)?,
        ]
    } else {
        vec![key_usage(KeyUsages::DigitalSignature)?]
    };
    let mut attributes = SetOfVec::new();
    attributes.insert(Attribute::try_from(ExtensionReq(requested))?)?;
    signed_csr(name, key, attributes)
}

/// A PEM ID-CSR for `name`'s `key` with `attributes`, self-signed.
fn signed_csr(
    name: &ActorName,
    key: &ed25519_dalek::SigningKey,
    attributes: SetOfVec<Attribute>,
) -> Result<String, Error> {
    let info = CertReqInfo {
        version: x509_cert::request::Version::V1,
        subject: actor_dn(name)?,
        public_key: ed25519_spki(&key.verifying_key())?,
        attributes,
    };
    let signature = sign(key, &info.to_der()?)?;
    csr_pem(info, signature)
}

/// An ID-CSR (as `build_csr` makes it) for the 32 key bytes as given, signed by `sign` over the
/// DER CertificationRequestInfo: for keys no `SigningKey` holds and signatures no signer makes
/// (core 6.2.1's weak keys and malleable signatures, which a home server must refuse). `sign`
/// reports a construction it could not make as an error.
pub fn build_csr_signed_by(
    name: &ActorName,
    public_key: &[u8; 32],
    sign: impl FnOnce(&[u8]) -> Result<[u8; 64], String>,
) -> Result<String, Error> {
    let mut attributes = SetOfVec::new();
    attributes.insert(Attribute::try_from(ExtensionReq(vec![key_usage(
        KeyUsages::DigitalSignature,
    )?]))?)?;
    let info = CertReqInfo {
        version: x509_cert::request::Version::V1,
        subject: actor_dn(name)?,
        public_key: ed25519_spki_bytes(public_key)?,
        attributes,
    };
    let signature = sign(&info.to_der()?).map_err(Error::Generation)?;
    csr_pem(info, BitString::from_bytes(&signature)?)
}

fn csr_pem(info: CertReqInfo, signature: BitString) -> Result<String, Error> {
    let csr = CertReq {
        info,
        algorithm: ed25519_algorithm(),
        signature,
    };
    Ok(csr.to_pem(der::pem::LineEnding::LF)?)
}

/// An ID-CSR that asks for CA rights with Basic Constraints (CA true) and Key Usage (keyCertSign)
/// as attributes of their own instead of inside extensionRequest (PKCS #10 allows any attribute).
pub fn build_csr_with_bare_ca_attributes(
    name: &ActorName,
    key: &ed25519_dalek::SigningKey,
) -> Result<String, Error> {
    let mut attributes = SetOfVec::new();
    for extension in [
        basic_constraints(true, None)?,
        key_usage(KeyUsages::KeyCertSign)?,
    ] {
        let mut values = SetOfVec::new();
        values.insert(<der::Any as der::Decode>::from_der(
            extension.extn_value.as_bytes(),
        )?)?;
        attributes.insert(Attribute {
            oid: extension.extn_id,
            values,
        })?;
    }
    signed_csr(name, key, attributes)
}

/// The same PEM CSR with one bit of its signature flipped (the signature is the DER's last
/// field): a forged ID-CSR whose self-signature no longer verifies.
pub fn csr_with_flipped_signature(pem: &str) -> Result<String, Error> {
    let mut der = pem_contents(pem, "CERTIFICATE REQUEST")?;
    let last = der
        .last_mut()
        .ok_or(Error::Encoding("certificate signing request"))?;
    *last ^= 0x01;
    der::pem::encode_string("CERTIFICATE REQUEST", der::pem::LineEnding::LF, &der)
        .map_err(|e| Error::Generation(e.to_string()))
}

/// The same certificate with the last byte of its signature flipped: a root whose
/// self-signature does not verify, for fault injection only. Returns (PEM, DER).
pub fn cert_with_flipped_signature(der: &[u8]) -> Result<(String, Vec<u8>), Error> {
    let mut der = der.to_vec();
    *der.last_mut().ok_or(Error::Encoding("certificate"))? ^= 0x01;
    let pem = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &der)
        .map_err(|e| Error::Generation(e.to_string()))?;
    Ok((pem, der))
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
    key: ed25519_dalek::SigningKey,
    subject: Name,
    /// The root's notAfter (UNIX seconds): no actor certificate outlives it.
    not_after: u64,
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    pub domain: String,
}

/// Signs a TBSCertificate with `key` and returns the PEM and DER certificate.
fn sign_certificate(
    tbs: TbsCertificate,
    key: &ed25519_dalek::SigningKey,
) -> Result<(String, Vec<u8>), Error> {
    let signature = sign(key, &tbs.to_der()?)?;
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: ed25519_algorithm(),
        signature,
    };
    Ok((cert.to_pem(der::pem::LineEnding::LF)?, cert.to_der()?))
}

/// The serial number of a root ID-Cert this code builds.
const ROOT_SERIAL: u8 = 1;

impl ServerIdentity {
    /// The root ID-Cert's serial number in decimal, as the cache signature of
    /// PROFILE.server-idcert covers it.
    pub fn serial_decimal(&self) -> String {
        ROOT_SERIAL.to_string()
    }

    /// Creates a self-signed root ID-Cert for `domain` (CA, path length 0, keyCertSign).
    pub fn new(domain: &str, key: &ed25519_dalek::SigningKey) -> Result<Self, Error> {
        Self::with_profile(domain, key, CertProfile::Polyproto)
    }

    /// As `new`; `CertProfile::Broken` makes certificates that break polyproto-core §6.1 (a root
    /// without CA flags, actor certificates with them), for fault injection only.
    pub fn with_profile(
        domain: &str,
        key: &ed25519_dalek::SigningKey,
        profile: CertProfile,
    ) -> Result<Self, Error> {
        let subject = RdnSequence(domain_components(domain)?);
        let spki = ed25519_spki(&key.verifying_key())?;
        let (usage, ca) = if profile == CertProfile::Polyproto {
            (
                key_usage(KeyUsages::KeyCertSign | KeyUsages::CRLSign)?,
                basic_constraints(true, Some(0))?,
            )
        } else {
            (
                key_usage(KeyUsages::DigitalSignature)?,
                basic_constraints(false, None)?,
            )
        };
        let extensions = vec![usage, subject_key_identifier(&spki)?, ca];
        // The root's validity: 1975-01-01 to 4096-01-01 (rcgen's defaults, kept).
        let not_before = DateTime::new(1975, 1, 1, 0, 0, 0)?;
        let not_after = DateTime::new(4096, 1, 1, 0, 0, 0)?;
        let tbs = TbsCertificate {
            version: x509_cert::Version::V3,
            serial_number: SerialNumber::new(&[ROOT_SERIAL])?,
            signature: ed25519_algorithm(),
            issuer: subject.clone(),
            validity: Validity {
                not_before: x509_time(not_before)?,
                not_after: x509_time(not_after)?,
            },
            subject: subject.clone(),
            subject_public_key_info: spki,
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(extensions),
        };
        let (cert_pem, cert_der) = sign_certificate(tbs, key)?;
        Ok(Self {
            profile,
            key: key.clone(),
            subject,
            not_after: not_after.unix_duration().as_secs(),
            cert_pem,
            cert_der,
            domain: domain.to_owned(),
        })
    }

    /// Signs an actor certificate for the already verified `csr`, valid from a minute ago for
    /// `validity_seconds` (never beyond the root), with fresh extensions chosen by the server
    /// (nothing requested beyond the pDN and key is copied).
    pub fn issue(
        &self,
        csr: &VerifiedCsr,
        serial: &[u8],
        validity_seconds: i64,
    ) -> Result<(String, Vec<u8>), Error> {
        let now = unix_now();
        let not_after = now.saturating_add(validity_seconds.max(1) as u64);
        self.issue_with(
            csr,
            serial,
            (now.saturating_sub(60), not_after),
            SubjectCopy::Verbatim,
        )
    }

    /// As `issue`, with the validity given (UNIX seconds; notAfter never beyond the root's) and
    /// the subject written as `subject` says.
    pub fn issue_with(
        &self,
        csr: &VerifiedCsr,
        serial: &[u8],
        (not_before, not_after): (u64, u64),
        subject: SubjectCopy,
    ) -> Result<(String, Vec<u8>), Error> {
        use der::Decode as _;
        let subject = match subject {
            // The CSR's subject Name as it came: decoding and encoding DER gives the same bytes,
            // which is checked, so a CSR whose name is not DER is refused rather than rewritten.
            SubjectCopy::Verbatim => {
                let name = Name::from_der(&csr.subject_der).map_err(|e| {
                    Error::InvalidCsr(format!("the subject is not a DER Name: {e}"))
                })?;
                if name.to_der()? != csr.subject_der {
                    return Err(Error::InvalidCsr(
                        "the subject is not in DER form (it would be re-encoded)".into(),
                    ));
                }
                name
            }
            SubjectCopy::Reordered => {
                let RdnSequence(mut rdns) = actor_dn(&csr.name)?;
                let last = rdns.len() - 1;
                rdns.swap(last - 1, last);
                RdnSequence(rdns)
            }
        };
        let spki = decode_spki(&csr.subject_key)?;
        let (usage, ca) = if self.profile == CertProfile::Polyproto {
            (
                key_usage(KeyUsages::DigitalSignature)?,
                basic_constraints(false, None)?,
            )
        } else {
            (
                key_usage(KeyUsages::KeyCertSign)?,
                basic_constraints(true, None)?,
            )
        };
        let extensions = vec![usage, subject_key_identifier(&spki)?, ca];
        let not_after = not_after.min(self.not_after);
        let tbs = TbsCertificate {
            version: x509_cert::Version::V3,
            serial_number: SerialNumber::new(serial)?,
            signature: ed25519_algorithm(),
            issuer: self.subject.clone(),
            validity: Validity {
                not_before: x509_time(unix_date(not_before)?)?,
                not_after: x509_time(unix_date(not_after)?)?,
            },
            subject,
            subject_public_key_info: spki,
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(extensions),
        };
        sign_certificate(tbs, &self.key)
    }
}

/// How an issued ID-Cert's subject is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectCopy {
    /// The CSR's subject Name, byte for byte (PROFILE.idcert-issue).
    Verbatim,
    /// Written anew from the claims, with the common name before the uniqueIdentifier: the same
    /// claims in other bytes, for fault injection only.
    Reordered,
}

/// A CSR whose self-signature verified, whose pDN follows polyproto-core §6.1.1.1 and which
/// requests nothing an actor certificate must not have (§6.1.1.2).
pub struct VerifiedCsr {
    pub name: ActorName,
    pub public_key: Vec<u8>,
    /// The CSR's SubjectPublicKeyInfo, DER: copied into the issued certificate.
    subject_key: Vec<u8>,
    /// The CSR's subject Name, DER: the issued certificate's subject.
    subject_der: Vec<u8>,
}

/// Parses a PEM ID-CSR and verifies every claim it makes: a strict Ed25519 self-signature (core
/// 6.2.1: no weak key, no malleable signature; `strict_ed25519`), the pDN (CN, UID = CN@domain,
/// a valid session id, DCs) and no request for CA true or keyCertSign. Whether the claims fit the
/// caller and this server is the server's part.
pub fn verify_csr(pem: &str) -> Result<VerifiedCsr, Error> {
    verify_csr_with(pem, &strict_ed25519)
}

/// How an ID-CSR's self-signature is verified: (public key, signed bytes, signature).
pub type SignatureCheck<'a> = &'a dyn Fn(&[u8], &[u8], &[u8]) -> Result<(), Error>;

/// `verify_csr` with another verification of the self-signature. Only the reference server's
/// faults that verify laxly pass one other than `strict_ed25519`.
pub fn verify_csr_with(
    pem: &str,
    check_signature: SignatureCheck<'_>,
) -> Result<VerifiedCsr, Error> {
    let der = pem_contents(pem, "CERTIFICATE REQUEST")?;
    let (_, csr) = X509CertificationRequest::from_der(&der)
        .map_err(|_| Error::Encoding("certificate signing request"))?;
    let info = &csr.certification_request_info;
    let public_key = ed25519_key(
        info.subject_pki.algorithm.algorithm.to_id_string().as_str(),
        &info.subject_pki.subject_public_key.data,
    )?;
    if csr.signature_algorithm.algorithm.to_id_string() != ED25519.to_string() {
        return Err(Error::InvalidCsr(
            "the self-signature is not Ed25519".into(),
        ));
    }
    check_signature(&public_key, info.raw, &csr.signature_value.data)?;
    if requests_ca(&csr) {
        return Err(Error::RequestsCa);
    }
    Ok(VerifiedCsr {
        name: actor_name(&info.subject)?,
        public_key,
        subject_key: subject_key(&csr)?,
        subject_der: info.subject.as_raw().to_vec(),
    })
}

/// Strict Ed25519 verification (core 6.2.1: malleable signatures and weak keys are refused): the
/// key is a canonically encoded point of large order, and ed25519-dalek's `verify_strict` holds,
/// which also refuses S >= L (the malleable form) and a small-order R.
pub fn strict_ed25519(public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), Error> {
    let bytes: [u8; 32] = public_key.try_into().map_err(|_| Error::NotEd25519)?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        .map_err(|_| Error::InvalidCsr("the Ed25519 key is not a curve point".into()))?;
    if key.is_weak() {
        return Err(Error::InvalidCsr(
            "the Ed25519 key is a point of small order (a weak key)".into(),
        ));
    }
    if key.to_edwards().compress().to_bytes() != bytes {
        return Err(Error::InvalidCsr(
            "the Ed25519 key is not canonically encoded".into(),
        ));
    }
    let signature = ed25519_dalek::Signature::from_slice(signature)
        .map_err(|_| Error::InvalidCsr("the self-signature is not 64 bytes".into()))?;
    key.verify_strict(message, &signature).map_err(|_| {
        Error::InvalidCsr(
            "the self-signature does not verify strictly (core 6.2.1: S < L, R of large order)"
                .into(),
        )
    })
}

/// Reads a PEM ID-CSR believing every claim: no signature, extension, UID or session-id check.
/// Only the fault `issue-unverified-csr` of the reference server uses it.
pub fn read_csr_unverified(pem: &str) -> Result<VerifiedCsr, Error> {
    let der = pem_contents(pem, "CERTIFICATE REQUEST")?;
    let (_, csr) = X509CertificationRequest::from_der(&der)
        .map_err(|_| Error::Encoding("certificate signing request"))?;
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
        subject_der: info.subject.as_raw().to_vec(),
    })
}

/// The CSR's SubjectPublicKeyInfo DER, checked to decode as one.
fn subject_key(csr: &X509CertificationRequest<'_>) -> Result<Vec<u8>, Error> {
    let raw = csr.certification_request_info.subject_pki.raw;
    decode_spki(raw)?;
    Ok(raw.to_vec())
}

fn decode_spki(der: &[u8]) -> Result<SubjectPublicKeyInfoOwned, Error> {
    use der::Decode as _;
    SubjectPublicKeyInfoOwned::from_der(der)
        .map_err(|e| Error::InvalidCsr(format!("unusable subject key: {e}")))
}

/// Whether the CSR's extension request asks for Basic Constraints CA true or keyCertSign.
fn requests_ca(csr: &X509CertificationRequest<'_>) -> bool {
    use x509_parser::extensions::ParsedExtension;
    // Basic Constraints or Key Usage as attributes of their own, outside extensionRequest: an
    // encoding of a request no actor needs, refused like the standard one.
    let bare = csr
        .certification_request_info
        .iter_attributes()
        .any(|a| BARE_CA_ATTRIBUTES.contains(&a.oid.to_id_string().as_str()));
    bare || csr
        .requested_extensions()
        .into_iter()
        .flatten()
        .any(|ext| match ext {
            ParsedExtension::BasicConstraints(bc) => bc.ca,
            ParsedExtension::KeyUsage(ku) => ku.key_cert_sign(),
            _ => false,
        })
}

/// Basic Constraints (2.5.29.19) and Key Usage (2.5.29.15).
const BARE_CA_ATTRIBUTES: [&str; 2] = ["2.5.29.19", "2.5.29.15"];

/// Whether the CSR asks for CA rights only in the standard encoding (extensionRequest): what the
/// reference server's `CaRequestOnlyInExtensionRequest` fault looks at.
pub fn requests_ca_in_extension_request(pem: &str) -> Result<bool, Error> {
    let der = pem_contents(pem, "CERTIFICATE REQUEST")?;
    let (_, csr) = X509CertificationRequest::from_der(&der)
        .map_err(|_| Error::Encoding("certificate signing request"))?;
    let asks = csr
        .requested_extensions()
        .into_iter()
        .flatten()
        .any(|ext| match ext {
            x509_parser::extensions::ParsedExtension::BasicConstraints(bc) => bc.ca,
            x509_parser::extensions::ParsedExtension::KeyUsage(ku) => ku.key_cert_sign(),
            _ => false,
        });
    Ok(asks)
}

fn ed25519_key(alg_oid: &str, data: &[u8]) -> Result<Vec<u8>, Error> {
    // id-Ed25519, RFC 8410
    if alg_oid != "1.3.101.112" || data.len() != 32 {
        return Err(Error::NotEd25519);
    }
    Ok(data.to_vec())
}

fn pem_contents(pem: &str, label: &'static str) -> Result<Vec<u8>, Error> {
    let parsed = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|_| Error::Encoding(label))?
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

fn single(name: &X509Name<'_>, oid: &str, what: &'static str) -> Result<String, Error> {
    let mut values = attributes(name, oid);
    match values.len() {
        0 => Err(Error::MissingAttribute(what)),
        1 => Ok(values.remove(0)),
        _ => Err(Error::InvalidAttribute(what, "repeated".into())),
    }
}

/// The domain of a pDN: its DC values joined with `.` in reverse DER order (DC=com, DC=example,
/// DC=mls reads `mls.example.com`).
fn domain_of(name: &X509Name<'_>) -> Result<String, Error> {
    let mut dcs = attributes(name, &oid_string(OID_DOMAIN_COMPONENT));
    if dcs.is_empty() {
        return Err(Error::MissingAttribute("dc"));
    }
    dcs.reverse();
    Ok(dcs.join("."))
}

/// Reads and checks the actor claims of a pDN: CN = local name, UID = CN@domain, session id.
fn actor_name(subject: &X509Name<'_>) -> Result<ActorName, Error> {
    let local_name = single(subject, OID_CN, "cn")?;
    let uid = single(subject, &oid_string(OID_UID), "uid")?;
    let session_id = single(
        subject,
        &oid_string(OID_UNIQUE_IDENTIFIER),
        "uniqueIdentifier",
    )?;
    let domain = domain_of(subject)?;
    check_domain(&domain)?;
    let name = ActorName {
        local_name,
        domain,
        session_id,
    };
    if uid != name.fid() {
        return Err(Error::InvalidAttribute(
            "uid",
            format!("`{uid}` is not `{}`", name.fid()),
        ));
    }
    if !valid_session_id(&name.session_id) {
        return Err(Error::InvalidSessionId);
    }
    Ok(name)
}

/// Parses a DER actor ID-Cert and verifies its signature against the issuer's DER certificate.
pub fn verify_actor_cert(der: &[u8], issuer_der: &[u8]) -> Result<IdCertInfo, Error> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|_| Error::Encoding("certificate"))?;
    let (_, issuer) =
        X509Certificate::from_der(issuer_der).map_err(|_| Error::Encoding("certificate"))?;
    cert.verify_signature(Some(issuer.public_key()))
        .map_err(|_| Error::BadSignature)?;
    let spki = cert.public_key();
    let public_key = ed25519_key(
        spki.algorithm.algorithm.to_id_string().as_str(),
        &spki.subject_public_key.data,
    )?;
    let issuer_domain = domain_of(cert.issuer())?;
    let name = actor_name(cert.subject())?;
    if issuer_domain != name.domain {
        return Err(Error::InvalidAttribute(
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

/// The PEM text of a DER certificate.
pub fn cert_der_to_pem(der: &[u8]) -> Result<String, Error> {
    let cert = <Certificate as der::Decode>::from_der(der)?;
    Ok(cert.to_pem(der::pem::LineEnding::LF)?)
}

/// Reads the actor claims of a DER ID-Cert without verifying who issued it.
pub fn actor_name_of(der: &[u8]) -> Result<ActorName, Error> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|_| Error::Encoding("certificate"))?;
    actor_name(cert.subject())
}

/// Decodes the first PEM certificate in `pem` to DER.
pub fn cert_pem_to_der(pem: &str) -> Result<Vec<u8>, Error> {
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
    fn the_subject_is_the_csrs_name_byte_for_byte_unless_a_fault_rewrites_it() {
        let server = ServerIdentity::new("mls.example", &key(1)).expect("server");
        let pem = build_csr(&alice(), &key(2)).expect("csr");
        let csr = verify_csr(&pem).expect("verify");
        let subject_of = |der: &[u8]| {
            let (_, cert) = X509Certificate::from_der(der).expect("cert");
            cert.subject().as_raw().to_vec()
        };
        let (_, der) = server.issue(&csr, &[5], 3600).expect("issue");
        assert_eq!(subject_of(&der), csr.subject_der);
        let now = unix_now();
        let (_, der) = server
            .issue_with(&csr, &[6], (now, now + 60), SubjectCopy::Reordered)
            .expect("issue");
        assert_ne!(subject_of(&der), csr.subject_der);
        // The same claims, in other bytes.
        assert_eq!(actor_name_of(&der).expect("claims"), csr.name);
    }

    #[test]
    fn a_flipped_root_signature_no_longer_verifies() {
        let server = ServerIdentity::new("example", &key(1)).expect("server");
        let (pem, der) = cert_with_flipped_signature(&server.cert_der).expect("flip");
        assert_eq!(cert_pem_to_der(&pem).expect("pem"), der);
        let (_, cert) = X509Certificate::from_der(&der).expect("cert");
        assert!(cert.verify_signature(None).is_err());
    }

    #[test]
    fn cert_from_another_server_is_rejected() {
        let server = ServerIdentity::new("example", &key(1)).expect("server");
        let other = ServerIdentity::new("example", &key(3)).expect("other");
        let csr = verify_csr(&build_csr(&alice(), &key(2)).expect("csr")).expect("verify");
        let (_, der) = other.issue(&csr, &[1], 3600).expect("issue");
        assert!(matches!(
            verify_actor_cert(&der, &server.cert_der),
            Err(Error::BadSignature)
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

    fn multi_label(local: &str) -> ActorName {
        ActorName {
            local_name: local.into(),
            domain: "mls.example.com".into(),
            session_id: "s1".into(),
        }
    }

    /// The values of one attribute type in DER order, read with x509-parser.
    fn values_in_der_order(name: &X509Name<'_>, oid: &[u64]) -> Vec<String> {
        attributes(name, &oid_string(oid))
    }

    #[test]
    fn multi_label_domain_round_trips_with_dcs_most_significant_first() {
        let server = ServerIdentity::new("mls.example.com", &key(1)).expect("server");
        let csr_pem = build_csr(&multi_label("alice"), &key(2)).expect("csr");
        let csr = verify_csr(&csr_pem).expect("verify");
        assert_eq!(csr.name, multi_label("alice"));
        assert_eq!(csr.name.fid(), "alice@mls.example.com");
        let (pem, der) = server.issue(&csr, &[0x00, 0x80, 7], 3600).expect("issue");
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{pem}");
        assert_eq!(cert_pem_to_der(&pem).expect("pem"), der);
        let info = verify_actor_cert(&der, &server.cert_der).expect("valid");
        assert_eq!(info.name.domain, "mls.example.com");
        assert_eq!(info.issuer_domain, "mls.example.com");
        assert_eq!(info.name.fid(), "alice@mls.example.com");
        assert_eq!(actor_name_of(&der).expect("name"), multi_label("alice"));

        let (_, cert) = X509Certificate::from_der(&der).expect("parse");
        let dcs = ["com", "example", "mls"].map(str::to_owned).to_vec();
        assert_eq!(
            values_in_der_order(cert.subject(), OID_DOMAIN_COMPONENT),
            dcs
        );
        assert_eq!(
            values_in_der_order(cert.issuer(), OID_DOMAIN_COMPONENT),
            dcs
        );
        // The whole actor pDN in DER order, one attribute per RDN.
        let order: Vec<String> = cert
            .subject()
            .iter()
            .map(|rdn| {
                assert_eq!(rdn.iter().count(), 1);
                rdn.iter()
                    .next()
                    .expect("attribute")
                    .attr_type()
                    .to_id_string()
            })
            .collect();
        let dc = oid_string(OID_DOMAIN_COMPONENT);
        assert_eq!(
            order,
            [
                dc.as_str(),
                &dc,
                &dc,
                &oid_string(OID_UID),
                &oid_string(OID_UNIQUE_IDENTIFIER),
                OID_CN
            ]
        );
        // A positive serial: the leading zero byte is dropped, 0x80 needs its sign byte.
        assert_eq!(cert.raw_serial(), &[0x00, 0x80, 7]);
        assert_eq!(cert.tbs_certificate.raw_serial().len(), 3);

        let (_, root) = X509Certificate::from_der(&server.cert_der).expect("root");
        assert_eq!(
            values_in_der_order(root.subject(), OID_DOMAIN_COMPONENT),
            dcs
        );
        assert_eq!(root.subject().iter().count(), 3);
        assert!(server.cert_pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
    }

    #[test]
    fn root_and_actor_certificates_have_the_polyproto_extensions() {
        let server = ServerIdentity::new("mls.example.com", &key(1)).expect("server");
        let (_, root) = X509Certificate::from_der(&server.cert_der).expect("root");
        assert_eq!(root.version(), x509_parser::x509::X509Version::V3);
        assert_eq!(root.raw_serial(), &[1]);
        assert_eq!(root.subject(), root.issuer());
        root.verify_signature(None).expect("self-signed");
        let bc = root.basic_constraints().expect("bc").expect("present");
        assert!(bc.critical && bc.value.ca && bc.value.path_len_constraint == Some(0));
        let ku = root.key_usage().expect("ku").expect("present");
        assert!(ku.critical && ku.value.key_cert_sign() && ku.value.crl_sign());
        assert!(!ku.value.digital_signature());
        assert_eq!(root.validity().not_before.timestamp(), 157_766_400); // 1975-01-01
        assert_eq!(root.validity().not_after.timestamp(), 67_090_118_400); // 4096-01-01

        let csr = verify_csr(&build_csr(&multi_label("bob"), &key(2)).expect("csr")).expect("csr");
        let before = unix_now() as i64;
        let (_, der) = server.issue(&csr, &[9], 3600).expect("issue");
        let (_, cert) = X509Certificate::from_der(&der).expect("cert");
        assert_eq!(cert.version(), x509_parser::x509::X509Version::V3);
        let bc = cert.basic_constraints().expect("bc").expect("present");
        assert!(bc.critical && !bc.value.ca);
        let ku = cert.key_usage().expect("ku").expect("present");
        assert!(ku.critical && ku.value.digital_signature() && !ku.value.key_cert_sign());
        let not_before = cert.validity().not_before.timestamp();
        let not_after = cert.validity().not_after.timestamp();
        assert!(
            (before - 61..=before - 59).contains(&not_before),
            "{not_before}"
        );
        assert!(
            (before + 3599..=before + 3601).contains(&not_after),
            "{not_after}"
        );
        // Never beyond the root's notAfter.
        let (_, der) = server.issue(&csr, &[10], i64::MAX).expect("issue");
        let (_, cert) = X509Certificate::from_der(&der).expect("cert");
        assert_eq!(cert.validity().not_after, root.validity().not_after);

        let broken = ServerIdentity::with_profile("mls.example.com", &key(1), CertProfile::Broken)
            .expect("broken");
        let (_, root) = X509Certificate::from_der(&broken.cert_der).expect("root");
        assert!(!root.is_ca());
        let ku = root.key_usage().expect("ku").expect("present");
        assert!(ku.value.digital_signature() && !ku.value.key_cert_sign());
        let (_, der) = broken.issue(&csr, &[11], 3600).expect("issue");
        let (_, cert) = X509Certificate::from_der(&der).expect("cert");
        assert!(cert.is_ca());
        assert!(cert
            .key_usage()
            .expect("ku")
            .expect("present")
            .value
            .key_cert_sign());
    }

    #[test]
    fn multi_label_csr_requesting_ca_is_refused() {
        let pem = build_csr_requesting(&multi_label("alice"), &key(2), true).expect("csr");
        assert!(
            pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"),
            "{pem}"
        );
        assert!(pem.lines().all(|line| line.len() <= 64));
        let err = verify_csr(&pem).err().expect("CA request refused");
        assert!(err.to_string().contains("keyCertSign"), "{err}");
        assert_eq!(
            read_csr_unverified(&pem).expect("unverified").name,
            multi_label("alice")
        );
    }

    #[test]
    fn empty_domains_and_labels_are_refused() {
        for domain in ["", "a..b", ".example", "example.", "bücher.example"] {
            let mut name = alice();
            name.domain = domain.into();
            let err = build_csr(&name, &key(2)).expect_err("refused");
            assert!(
                matches!(err, Error::InvalidDomain(ref d, _) if d == domain),
                "{domain}: {err}"
            );
            assert!(ServerIdentity::new(domain, &key(1)).is_err(), "{domain}");
        }
        let err = check_domain("a..b").expect_err("refused");
        assert_eq!(
            err.to_string(),
            "domain `a..b` is unusable as pDN domain components: it has an empty label"
        );
        assert!(check_domain("localhost").is_ok());
        assert!(check_domain("mls.example.com").is_ok());
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
