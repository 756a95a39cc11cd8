//! Encrypted private key material (core 6.3): what an actor uploaded for the ID-Certs of its
//! sessions, kept as uploaded, per actor and serial number.

use rusqlite::OptionalExtension;
use serde_json::Value;

use super::tx::{parse_json, Tx};
use crate::error::ApiError;

/// One uploaded element (core beta.3's `EncryptedPKM`).
pub struct KeyMaterial {
    pub serial: u64,
    pub key_data: String,
    /// `encryptionAlgorithms`, in the uploaded order.
    pub algorithms: Value,
}

impl Tx<'_> {
    /// The serial numbers of the actor's ID-Certs that fit a uint64 (all that this server issues
    /// since issue 15; older 16-byte ones cannot be named through the API).
    pub fn actor_serials(&self, fid: &str) -> Result<Vec<u64>, ApiError> {
        let mut statement = self
            .0
            .prepare("SELECT serial FROM sessions WHERE fid = ?1")?;
        let rows = statement.query_map([fid], |r| r.get::<_, Vec<u8>>(0))?;
        let mut serials = Vec::new();
        for serial in rows {
            if let Ok(bytes) = <[u8; 8]>::try_from(serial?.as_slice()) {
                serials.push(u64::from_be_bytes(bytes));
            }
        }
        Ok(serials)
    }

    /// Whether the actor has key material stored for the serial number.
    pub fn key_material_stored(&self, fid: &str, serial: u64) -> Result<bool, ApiError> {
        Ok(self
            .0
            .query_row(
                "SELECT 1 FROM key_material WHERE fid = ?1 AND serial = ?2",
                (fid, serial.to_be_bytes()),
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    pub fn insert_key_material(&self, fid: &str, material: &KeyMaterial) -> Result<(), ApiError> {
        self.0.execute(
            "INSERT INTO key_material (fid, serial, key_data, algorithms) VALUES (?1, ?2, ?3, ?4)",
            (
                fid,
                material.serial.to_be_bytes(),
                &material.key_data,
                material.algorithms.to_string(),
            ),
        )?;
        Ok(())
    }

    /// The actor's key material in upload order, of the serial numbers given (all without).
    pub fn key_material(
        &self,
        fid: &str,
        serials: Option<&[u64]>,
    ) -> Result<Vec<KeyMaterial>, ApiError> {
        let mut statement = self.0.prepare(
            "SELECT serial, key_data, algorithms FROM key_material WHERE fid = ?1 ORDER BY seq",
        )?;
        let rows = statement.query_map([fid], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (serial, key_data, algorithms) = row?;
            let serial = <[u8; 8]>::try_from(serial.as_slice())
                .map(u64::from_be_bytes)
                .map_err(|_| ApiError::Internal("a stored serial is not 8 bytes".into()))?;
            if serials.is_none_or(|wanted| wanted.contains(&serial)) {
                out.push(KeyMaterial {
                    serial,
                    key_data,
                    algorithms: parse_json(&algorithms)?,
                });
            }
        }
        Ok(out)
    }

    /// Deletes the actor's key material of the serial numbers; how many were deleted.
    pub fn delete_key_material(&self, fid: &str, serials: &[u64]) -> Result<usize, ApiError> {
        let mut deleted = 0;
        for serial in serials {
            deleted += self.0.execute(
                "DELETE FROM key_material WHERE fid = ?1 AND serial = ?2",
                (fid, serial.to_be_bytes()),
            )?;
        }
        Ok(deleted)
    }
}
