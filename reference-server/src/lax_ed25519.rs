//! Ed25519 as a careless verifier does it, for the faults `accept-weak-keys` and
//! `accept-malleable-signatures` only: the cofactorless equation [S]B = R + [k]A over whatever
//! points the bytes decode to. Each fault lifts one of core 6.2.1's refusals; the other stays
//! strict, so each fault breaks exactly one rule. The default server verifies with
//! `p2mls_protocol::idcert::strict_ed25519`.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use p2mls_protocol::Error;
use sha2::{Digest, Sha512};

/// What a lax verification lets through.
#[derive(Debug, Clone, Copy)]
pub struct Lax {
    /// Keys of small order and keys in a non-canonical encoding.
    pub weak_keys: bool,
    /// S at or above the group order L, reduced modulo L (the malleable form).
    pub malleable: bool,
}

impl Lax {
    /// Verifies `signature` over `message` with the 32 key bytes.
    pub fn verify(self, public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), Error> {
        let refused = |why: &str| Err(Error::InvalidCsr(why.to_owned()));
        let (Ok(key), Ok(signature)) = (
            <[u8; 32]>::try_from(public_key),
            <[u8; 64]>::try_from(signature),
        ) else {
            return refused("not an Ed25519 key and signature");
        };
        let mut r_bytes = [0u8; 32];
        r_bytes.copy_from_slice(&signature[..32]);
        let mut s_bytes = [0u8; 32];
        s_bytes.copy_from_slice(&signature[32..]);
        let (Some(a), Some(r)) = (
            CompressedEdwardsY(key).decompress(),
            CompressedEdwardsY(r_bytes).decompress(),
        ) else {
            return refused("the key or R is not a curve point");
        };
        if !self.weak_keys && (a.is_small_order() || a.compress().to_bytes() != key) {
            return refused("a weak or non-canonical key");
        }
        let s = if self.malleable {
            Scalar::from_bytes_mod_order(s_bytes)
        } else {
            match Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)) {
                Some(s) => s,
                None => return refused("S is not below the group order"),
            }
        };
        let k = Scalar::from_bytes_mod_order_wide(
            &Sha512::new()
                .chain_update(r_bytes)
                .chain_update(key)
                .chain_update(message)
                .finalize()
                .into(),
        );
        // [S]B - [k]A, compared with R as points (not as bytes).
        if EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &-a, &s) == r {
            Ok(())
        } else {
            refused("the signature does not verify")
        }
    }
}

#[cfg(test)]
mod tests {
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
    use ed25519_dalek::{Signer, SigningKey};
    use p2mls_protocol::idcert::strict_ed25519;

    use super::*;

    const STRICT: Lax = Lax {
        weak_keys: false,
        malleable: false,
    };

    /// (R, S) with R = [r]B, S = r: a signature of anything under the neutral element.
    fn neutral_signature() -> ([u8; 32], [u8; 64]) {
        let mut key = [0u8; 32];
        key[0] = 1;
        let r = Scalar::from(12345u64);
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice((r * ED25519_BASEPOINT_POINT).compress().as_bytes());
        signature[32..].copy_from_slice(r.as_bytes());
        (key, signature)
    }

    #[test]
    fn each_fault_lifts_one_refusal_and_the_default_refuses_both() {
        let (weak, forged) = neutral_signature();
        assert!(strict_ed25519(&weak, b"m", &forged).is_err());
        assert!(STRICT.verify(&weak, b"m", &forged).is_err());
        let weak_ok = Lax {
            weak_keys: true,
            malleable: false,
        };
        assert!(weak_ok.verify(&weak, b"m", &forged).is_ok());

        let key = SigningKey::from_bytes(&[9; 32]);
        let public = key.verifying_key().to_bytes();
        let mut signature = key.sign(b"m").to_bytes();
        assert!(strict_ed25519(&public, b"m", &signature).is_ok());
        assert!(STRICT.verify(&public, b"m", &signature).is_ok());
        // S + L: L = 2^252 + 27742317777372353535851937790883648493.
        let l = Scalar::ZERO - Scalar::ONE;
        let mut carry = 1u16; // L = (L - 1) + 1
        for (byte, l) in signature[32..].iter_mut().zip(l.as_bytes()) {
            let sum = u16::from(*byte) + u16::from(*l) + carry;
            *byte = sum as u8;
            carry = sum >> 8;
        }
        assert!(strict_ed25519(&public, b"m", &signature).is_err());
        assert!(weak_ok.verify(&public, b"m", &signature).is_err());
        let malleable_ok = Lax {
            weak_keys: false,
            malleable: true,
        };
        assert!(malleable_ok.verify(&public, b"m", &signature).is_ok());
        assert!(malleable_ok.verify(&weak, b"m", &forged).is_err());
    }
}
