//! Identifier strings of the interop profile (PROFILE.identifier-strings).
//!
//! Cipher suites and extension types are written `0x` followed by four uppercase hex digits;
//! MLS 1.0 is written `1.0`. Parsing is case-insensitive.

use crate::Error;

/// Writes a 16-bit code point (suite or extension type) as `0xHHHH`.
pub fn format_code_point(value: u16) -> String {
    format!("0x{value:04X}")
}

/// Parses `0xHHHH` (any case, exactly four hex digits).
pub fn parse_code_point(text: &str) -> Result<u16, Error> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .filter(|d| d.len() == 4 && d.chars().all(|c| c.is_ascii_hexdigit()))
        .ok_or_else(|| Error::NotCodePoint(text.to_owned()))?;
    u16::from_str_radix(digits, 16).map_err(|_| Error::NotCodePoint(text.to_owned()))
}

/// Writes an MLS ProtocolVersion value. RFC 9420 assigns 1 to mls10, written `1.0`.
pub fn format_version(value: u16) -> String {
    match value {
        1 => "1.0".to_owned(),
        other => format!("0x{other:04X}"),
    }
}

/// Parses a version string back into the MLS ProtocolVersion value.
pub fn parse_version(text: &str) -> Result<u16, Error> {
    match text {
        "1.0" => Ok(1),
        other => parse_code_point(other).map_err(|_| Error::NotVersion(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_points_round_trip() {
        assert_eq!(format_code_point(0xF110), "0xF110");
        assert_eq!(parse_code_point("0xf110"), Ok(0xF110));
        assert_eq!(parse_code_point("0x0001"), Ok(1));
        for bad in ["1", "0x1", "0x00001", "0xZZZZ", "", "0x"] {
            assert!(parse_code_point(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn versions() {
        assert_eq!(format_version(1), "1.0");
        assert_eq!(parse_version("1.0"), Ok(1));
        assert!(parse_version("2").is_err());
    }
}
