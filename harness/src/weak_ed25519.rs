//! Ed25519 inputs that only a strict verifier refuses (core 6.2.1: "signature schemes producing
//! malleable signatures and weak public keys must be rejected"), built and proven with the
//! harness's own arithmetic on curve25519-dalek, never with the code of the server under test:
//!
//! - weak keys: points of small order ([8]A = O), whose encodings a careless verifier takes. With
//!   such a key A and any R = [r]B the cofactorless equation [S]B = R + [k]A holds for S = r
//!   whenever [k]A = O, so a "signature" is made without any private key;
//! - the malleable signature: (R, S + L) for a valid (R, S). L is the order of the base point,
//!   so [S + L]B = [S]B and a verifier that reduces S modulo L accepts both forms.
//!
//! Each construction is checked before it is sent: a lax verifier (`lax_verify`: any encoding of
//! A and R, S reduced modulo L, no small-order test) must accept it, so a server refusing it
//! refuses it for strictness and not for being garbage. Equations: k = SHA-512(R || A || M)
//! mod L; accept iff [S mod L]B = R + [k]A.

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use sha2::{Digest, Sha512};

/// L = 2^252 + 27742317777372353535851937790883648493, little-endian (RFC 8032 §5.1).
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// A key a strict verifier refuses: its encoding and what it is.
#[derive(Debug, Clone, Copy)]
pub struct WeakKey {
    pub what: &'static str,
    pub bytes: [u8; 32],
}

/// The weak keys the ID-CSR check sends: the neutral element, the point of order 2, a point of
/// order 8, and the neutral element written with y = p + 1 (a non-canonical encoding).
pub fn weak_keys() -> Vec<WeakKey> {
    let mut y_is_one = [0u8; 32];
    y_is_one[0] = 1;
    // p - 1 (y = -1: the point (0, -1) of order 2) and p + 1 (y = 1 again, not reduced), with
    // p = 2^255 - 19 = ed ff .. ff 7f little-endian.
    let mut minus_one = [0xffu8; 32];
    minus_one[0] = 0xec;
    minus_one[31] = 0x7f;
    let mut p_plus_one = minus_one;
    p_plus_one[0] = 0xee;
    vec![
        WeakKey {
            what: "the neutral element (order 1)",
            bytes: y_is_one,
        },
        WeakKey {
            what: "the point (0, -1) of order 2",
            bytes: minus_one,
        },
        WeakKey {
            what: "a point of order 8",
            bytes: EIGHT_TORSION[1].compress().to_bytes(),
        },
        WeakKey {
            what: "the neutral element encoded non-canonically (y = p + 1)",
            bytes: p_plus_one,
        },
    ]
}

/// Whether the 32 bytes decode to a point of small order: [8]A is the neutral element.
pub fn is_small_order(key: &[u8; 32]) -> bool {
    CompressedEdwardsY(*key)
        .decompress()
        .is_some_and(|a| a.mul_by_cofactor().is_identity())
}

/// Whether the 32 bytes decode to a point whose canonical encoding is other bytes.
pub fn is_non_canonical(key: &[u8; 32]) -> bool {
    CompressedEdwardsY(*key)
        .decompress()
        .is_some_and(|a| a.compress().to_bytes() != *key)
}

/// A signature by the weak key over `message` without any private key: R = [r]B for random r
/// until [k]A = O, then S = r. Proven with `lax_verify` before it is returned.
pub fn sign_with_weak_key(key: &[u8; 32], message: &[u8]) -> Result<[u8; 64], String> {
    if !is_small_order(key) {
        return Err("the key is not a curve point of small order".into());
    }
    let a = CompressedEdwardsY(*key)
        .decompress()
        .ok_or("the weak key is not a curve point")?;
    // [k]A = O for k a multiple of A's order (at most 8): one try in eight on average.
    for _ in 0..256 {
        let mut wide = [0u8; 64];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut wide);
        let r = Scalar::from_bytes_mod_order_wide(&wide);
        let big_r = (r * ED25519_BASEPOINT_POINT).compress().to_bytes();
        if (challenge(&big_r, key, message) * a).is_identity() {
            let mut signature = [0u8; 64];
            signature[..32].copy_from_slice(&big_r);
            signature[32..].copy_from_slice(r.as_bytes());
            return proven(key, message, signature);
        }
    }
    Err("no R gave [k]A = O in 256 tries".into())
}

/// The malleable form (R, S + L) of a valid signature: S + L is at least L and stands for the
/// same scalar. Proven with `lax_verify` before it is returned.
pub fn malleate(key: &[u8; 32], message: &[u8], signature: [u8; 64]) -> Result<[u8; 64], String> {
    let mut s = [0u8; 32];
    s.copy_from_slice(&signature[32..]);
    if !below_l(&s) {
        return Err("the signature to malleate already has S >= L".into());
    }
    let mut carry = 0u16;
    for (byte, l) in s.iter_mut().zip(L) {
        let sum = u16::from(*byte) + u16::from(l) + carry;
        *byte = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
    // S < L < 2^253, so S + L < 2^254: no carry out of 32 bytes.
    if carry != 0 || below_l(&s) {
        return Err("S + L does not fit 32 bytes at or above L".into());
    }
    let mut malleable = signature;
    malleable[32..].copy_from_slice(&s);
    proven(key, message, malleable)
}

/// Ed25519 as a careless verifier does it: A and R from any encoding, S reduced modulo L, the
/// cofactorless equation [S]B = R + [k]A, no small-order test.
pub fn lax_verify(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    let mut r_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&signature[..32]);
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&signature[32..]);
    let (Some(a), Some(r)) = (
        CompressedEdwardsY(*key).decompress(),
        CompressedEdwardsY(r_bytes).decompress(),
    ) else {
        return false;
    };
    let s = Scalar::from_bytes_mod_order(s_bytes);
    let left: EdwardsPoint = s * ED25519_BASEPOINT_POINT;
    left == r + challenge(&r_bytes, key, message) * a
}

/// Whether S (little-endian) is below L: the canonical range a strict verifier demands.
pub fn below_l(s: &[u8; 32]) -> bool {
    for (byte, l) in s.iter().zip(L).rev() {
        if *byte != l {
            return *byte < l;
        }
    }
    false
}

/// k = SHA-512(R || A || M) mod L (RFC 8032 §5.1.7).
fn challenge(r: &[u8; 32], key: &[u8; 32], message: &[u8]) -> Scalar {
    let digest: [u8; 64] = Sha512::new()
        .chain_update(r)
        .chain_update(key)
        .chain_update(message)
        .finalize()
        .into();
    Scalar::from_bytes_mod_order_wide(&digest)
}

fn proven(key: &[u8; 32], message: &[u8], signature: [u8; 64]) -> Result<[u8; 64], String> {
    if lax_verify(key, message, &signature) {
        Ok(signature)
    } else {
        Err("the construction does not pass a lax verification".into())
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

    use super::*;

    #[test]
    fn l_is_the_order_of_the_base_point() {
        let l = Scalar::from_bytes_mod_order(L);
        assert_eq!(l, Scalar::ZERO, "L reduces to zero");
        let mut l_minus_one = L;
        l_minus_one[0] -= 1;
        assert!(below_l(&l_minus_one) && !below_l(&L));
        // [L - 1]B + B = O
        let almost = Scalar::from_bytes_mod_order(l_minus_one) * ED25519_BASEPOINT_POINT;
        assert!((almost + ED25519_BASEPOINT_POINT).is_identity());
    }

    #[test]
    fn weak_keys_sign_anything_laxly_and_strict_verification_refuses_them() {
        for key in weak_keys() {
            assert!(is_small_order(&key.bytes), "{}", key.what);
            let signature = sign_with_weak_key(&key.bytes, b"any message").expect(key.what);
            assert!(lax_verify(&key.bytes, b"any message", &signature));
            let strict = VerifyingKey::from_bytes(&key.bytes).map(|k| {
                k.verify_strict(
                    b"any message",
                    &ed25519_dalek::Signature::from_bytes(&signature),
                )
            });
            assert!(
                !matches!(strict, Ok(Ok(()))),
                "{} passes strictly",
                key.what
            );
        }
        let non_canonical: Vec<_> = weak_keys()
            .into_iter()
            .filter(|k| is_non_canonical(&k.bytes))
            .map(|k| k.what)
            .collect();
        assert_eq!(
            non_canonical,
            ["the neutral element encoded non-canonically (y = p + 1)"]
        );
    }

    #[test]
    fn the_malleable_form_verifies_laxly_only() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let public = key.verifying_key().to_bytes();
        let signature = key.sign(b"m").to_bytes();
        let malleable = malleate(&public, b"m", signature).expect("malleable");
        assert_ne!(malleable, signature);
        let mut s = [0u8; 32];
        s.copy_from_slice(&malleable[32..]);
        assert!(!below_l(&s));
        let dalek = ed25519_dalek::Signature::from_bytes(&malleable);
        assert!(key.verifying_key().verify_strict(b"m", &dalek).is_err());
        assert!(!lax_verify(&public, b"other", &malleable));
    }
}
