//! Typed loading of vector files. A file is first read as a JSON array, then each entry is
//! deserialised on its own, so that one broken entry does not hide the others and every error
//! names the file, the entry and the field (via `serde_path_to_error`).

use crate::Error;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Bytes written as a hex string in JSON.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Hex(pub Vec<u8>);

impl Hex {
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", hex::encode(&self.0))
    }
}

impl std::ops::Deref for Hex {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for Hex {
    fn from(v: Vec<u8>) -> Self {
        Hex(v)
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(&s)
            .map(Hex)
            .map_err(|e| serde::de::Error::custom(format!("invalid hex string: {e}")))
    }
}

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0))
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses the bytes of a file named `file` into its raw entries.
pub fn parse_entries(file: &str, bytes: &[u8]) -> Result<Vec<Value>, Error> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| Error::Json {
        file: file.to_owned(),
        message: e.to_string(),
    })?;
    match value {
        Value::Array(entries) => Ok(entries),
        other => Err(Error::NotAnArray {
            file: file.to_owned(),
            found: kind(&other),
        }),
    }
}

/// Reads `dir/file` into its raw entries.
pub fn read_entries(dir: &Path, file: &str) -> Result<Vec<Value>, Error> {
    let bytes = std::fs::read(dir.join(file)).map_err(|e| Error::Io {
        file: file.to_owned(),
        message: e.to_string(),
    })?;
    parse_entries(file, &bytes)
}

/// A JSON file found for verification.
#[derive(Debug, Clone)]
pub struct Source {
    /// Its path relative to the verified directory, `/`-separated: the name reports use.
    pub name: String,
    /// Its raw entries, or why they could not be read.
    pub entries: Result<Vec<Value>, Error>,
}

/// Every `*.json` file under `dir`, in subdirectories too, sorted by path. Hidden directories
/// (`.git`) are not entered, nor are symbolic links to directories (no loops); a directory that
/// cannot be listed is a source whose reading failed, so it is reported, not skipped.
pub fn json_files(dir: &Path) -> Vec<Source> {
    let mut out = Vec::new();
    walk(dir, "", &mut out);
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<Source>) {
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(e) => {
            let name = if prefix.is_empty() { "." } else { prefix };
            out.push(Source {
                name: name.to_owned(),
                entries: Err(Error::Io {
                    file: name.to_owned(),
                    message: format!("cannot list the directory: {e}"),
                }),
            });
            return;
        }
    };
    for item in listing.flatten() {
        let file_name = item.file_name().to_string_lossy().into_owned();
        let name = format!("{prefix}{file_name}");
        let path = item.path();
        let is_real_dir = item.file_type().is_ok_and(|t| t.is_dir());
        if is_real_dir {
            if !file_name.starts_with('.') {
                walk(&path, &format!("{name}/"), out);
            }
        } else if path.is_file()
            && path
                .extension()
                .is_some_and(|ext| ext.eq_ignore_ascii_case("json"))
        {
            let entries = std::fs::read(&path)
                .map_err(|e| Error::Io {
                    file: name.clone(),
                    message: e.to_string(),
                })
                .and_then(|bytes| parse_entries(&name, &bytes));
            out.push(Source { name, entries });
        }
    }
}

/// Deserialises entry number `entry` of `file`.
pub fn entry<E: DeserializeOwned>(file: &str, entry: usize, value: &Value) -> Result<E, Error> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        Error::Entry {
            file: file.to_owned(),
            entry,
            field: if path.is_empty() || path == "." {
                "(entry)".to_owned()
            } else {
                path
            },
            message: e.into_inner().to_string(),
        }
    })
}

/// Deserialises every entry of a file (strict: the first broken entry is the error).
pub fn load<E: DeserializeOwned>(file: &str, bytes: &[u8]) -> Result<Vec<E>, Error> {
    parse_entries(file, bytes)?
        .iter()
        .enumerate()
        .map(|(i, v)| entry(file, i, v))
        .collect()
}

/// The `cipher_suite` of a raw entry, when it has a well-formed one.
pub fn suite_of(value: &Value) -> Option<u16> {
    value
        .get("cipher_suite")
        .and_then(Value::as_u64)
        .and_then(|v| u16::try_from(v).ok())
}
