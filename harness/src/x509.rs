//! ID-Certs read with the harness's own code, written from polyproto-core §6.1 with x509-parser:
//! never with the reference server's builder or reader (`protocol::idcert`), so a naming bug both
//! sides shared could not pass unseen. The clients read claims with it (mls-rs's identity
//! provider); `matchers::idcert` judges with it.

use crate::Error;
use x509_parser::oid_registry::{OID_SIG_ED25519, OID_X509_COMMON_NAME};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::X509Name;

/// `UID` (RFC 4519; core §6.1.1.1: the actor's federation id).
pub const OID_UID: &str = "0.9.2342.19200300.100.1.1";
/// `uniqueIdentifier` (RFC 4519; core §6.1.1.1: the session id).
pub const OID_UNIQUE_IDENTIFIER: &str = "0.9.2342.19200300.100.1.44";
/// `domainComponent` (RFC 4519).
pub const OID_DC: &str = "0.9.2342.19200300.100.1.25";

/// The pDN claims of a name, as core §6.1.1.1 defines them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PdnClaims {
    pub common_name: Option<String>,
    /// The federation id (`UID`).
    pub uid: Option<String>,
    /// The session id (`uniqueIdentifier`).
    pub session_id: Option<String>,
    /// Domain components in DER order (most significant first, as LDAP writes them).
    pub domain_components: Vec<String>,
}

impl PdnClaims {
    /// The domain the components spell: labels from least to most significant, joined by `.`.
    pub fn domain(&self) -> String {
        let mut labels = self.domain_components.clone();
        labels.reverse();
        labels.join(".")
    }
}

/// Reads the pDN claims of `name`; an attribute present twice is an error (a pDN names one
/// actor, one session).
pub fn claims(name: &X509Name<'_>) -> Result<PdnClaims, Error> {
    let mut out = PdnClaims::default();
    for attribute in name.iter_attributes() {
        let oid = attribute.attr_type().to_id_string();
        let value = || {
            attribute
                .as_str()
                .map(str::to_owned)
                .map_err(|e| Error::Malformed(format!("attribute {oid} is not a string: {e}")))
        };
        let slot = if attribute.attr_type() == &OID_X509_COMMON_NAME {
            &mut out.common_name
        } else if oid == OID_UID {
            &mut out.uid
        } else if oid == OID_UNIQUE_IDENTIFIER {
            &mut out.session_id
        } else if oid == OID_DC {
            out.domain_components.push(value()?);
            continue;
        } else {
            continue;
        };
        if slot.replace(value()?).is_some() {
            return Err(Error::Malformed(format!(
                "attribute {oid} appears more than once"
            )));
        }
    }
    Ok(out)
}

/// DER of the first `CERTIFICATE` block of `pem`.
pub fn pem_to_der(pem: &str) -> Result<Vec<u8>, Error> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| Error::Malformed(format!("not PEM: {e}")))?;
    if block.label != "CERTIFICATE" {
        return Err(Error::Malformed(format!(
            "a PEM {} block, not CERTIFICATE",
            block.label
        )));
    }
    Ok(block.contents)
}

pub fn parse(der: &[u8]) -> Result<X509Certificate<'_>, Error> {
    let (rest, cert) = X509Certificate::from_der(der)
        .map_err(|e| Error::Malformed(format!("not a DER certificate: {e}")))?;
    if !rest.is_empty() {
        return Err(Error::Malformed(format!(
            "{} bytes after the certificate",
            rest.len()
        )));
    }
    Ok(cert)
}

/// The raw 32-byte Ed25519 key of the subject.
pub fn ed25519_key(cert: &X509Certificate<'_>) -> Result<Vec<u8>, Error> {
    let spki = cert.public_key();
    if spki.algorithm.algorithm != OID_SIG_ED25519 {
        return Err(Error::Malformed(format!(
            "subject key algorithm {} is not Ed25519",
            spki.algorithm.algorithm
        )));
    }
    let key = spki.subject_public_key.data.to_vec();
    if key.len() != 32 {
        return Err(Error::Malformed(format!(
            "an Ed25519 key of {} bytes",
            key.len()
        )));
    }
    Ok(key)
}

/// The serial number as a uint64 (core beta.3's type for serial numbers), if it fits: the DER
/// INTEGER's content without leading zero bytes, at most 8 bytes.
pub fn serial_u64(cert: &X509Certificate<'_>) -> Option<u64> {
    let raw = cert.raw_serial();
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    let digits = &raw[start..];
    (digits.len() <= 8).then(|| {
        digits
            .iter()
            .fold(0u64, |value, byte| (value << 8) | u64::from(*byte))
    })
}

/// One DER element (X.690): its tag, its whole encoding and its content. Only the definite
/// lengths DER allows are read.
fn der_element(bytes: &[u8]) -> Result<(u8, &[u8], &[u8]), Error> {
    let short = || Error::Malformed("DER ends inside an element".into());
    let (&tag, rest) = bytes.split_first().ok_or_else(short)?;
    let (&first, rest) = rest.split_first().ok_or_else(short)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(Error::Malformed("a DER length DER does not allow".into()));
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, 2 + n)
    };
    let end = header.checked_add(len).filter(|&e| e <= bytes.len());
    let end = end.ok_or_else(short)?;
    Ok((tag, &bytes[..end], &bytes[header..end]))
}

/// The DER of the subject Name of a certificate (`der` a Certificate) or of a certification
/// request (`der` a CertificationRequest), read by walking the structure by hand (RFC 5280
/// §4.1, RFC 2986 §4): nothing the target or the ID-Cert builder uses reads it.
pub fn subject_name_der(der: &[u8]) -> Result<Vec<u8>, Error> {
    let (_, _, outer) = der_element(der)?;
    let (_, _, info) = der_element(outer)?;
    let mut fields = Vec::new();
    let mut rest = info;
    while !rest.is_empty() {
        let (tag, whole, _) = der_element(rest)?;
        fields.push((tag, whole));
        rest = &rest[whole.len()..];
    }
    // A request: version, subject. A certificate: [0] version (explicit, optional), serial,
    // signature, issuer, validity, subject.
    let is_certificate = fields.len() > 4;
    let index = if !is_certificate {
        1
    } else if fields.first().is_some_and(|(tag, _)| *tag == 0xa0) {
        5
    } else {
        4
    };
    match fields.get(index) {
        Some((0x30, whole)) => Ok(whole.to_vec()),
        _ => Err(Error::Malformed(
            "no subject Name where RFC 5280/2986 put it".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_read_by_hand_is_the_one_x509_parser_reads() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("key");
        let mut params =
            rcgen::CertificateParams::new(vec!["x.example".to_owned()]).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "xenia");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "p2mls");
        let cert = params.self_signed(&key).expect("cert").der().to_vec();
        let parsed = parse(&cert).expect("cert");
        assert_eq!(
            subject_name_der(&cert).expect("subject"),
            parsed.subject().as_raw()
        );
        let csr = params.serialize_request(&key).expect("csr").der().to_vec();
        let (_, request) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&csr)
                .expect("csr");
        assert_eq!(
            subject_name_der(&csr).expect("subject"),
            request.certification_request_info.subject.as_raw()
        );
        assert!(subject_name_der(&csr[..csr.len() / 2]).is_err());
    }
}
