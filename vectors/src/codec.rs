//! A small reader and writer for the TLS presentation language as RFC 9420 uses it (§2.1):
//! big-endian integers and vectors prefixed by a variable-length integer (§2.1.2).
//!
//! openmls keeps most structures we have to hash or re-derive (GroupSecrets, Commit,
//! FramedContent, the tree-hash inputs) private, so the verifiers read those with this codec and
//! keep the raw byte slices they sign or hash. Every read is bounds-checked: hostile input gives a
//! [`Error`], never a panic.

use crate::Error;

/// A cursor over borrowed bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The bytes between two positions of this reader (used to keep signed or hashed slices).
    pub fn slice(&self, from: usize, to: usize) -> &'a [u8] {
        let to = to.min(self.buf.len());
        let from = from.min(to);
        &self.buf[from..to]
    }

    /// Fails when bytes are left.
    pub fn finish(&self, what: &'static str) -> Result<(), Error> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(Error::Trailing {
                count: self.buf.len() - self.pos,
                what,
            })
        }
    }

    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.buf.len())
            .ok_or(Error::Truncated { at: self.pos, what })?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, Error> {
        Ok(self.bytes(1, what)?[0])
    }

    pub fn u16(&mut self, what: &'static str) -> Result<u16, Error> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, Error> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, Error> {
        let b = self.bytes(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// A variable-length integer (RFC 9420 §2.1.2): the two top bits of the first byte give the
    /// length (1, 2 or 4 bytes); `11` is invalid, and the encoding must be minimal.
    pub fn varint(&mut self) -> Result<u32, Error> {
        let at = self.pos;
        let first = self.u8("a variable-length integer")?;
        let (len, mut value) = match first >> 6 {
            0 => (1usize, u32::from(first & 0x3f)),
            1 => (2, u32::from(first & 0x3f)),
            2 => (4, u32::from(first & 0x3f)),
            _ => return Err(Error::BadVarint { at }),
        };
        for _ in 1..len {
            value = (value << 8) | u32::from(self.u8("a variable-length integer")?);
        }
        let minimal = match len {
            1 => true,
            2 => value > 63,
            _ => value > 16383,
        };
        if !minimal {
            return Err(Error::NonMinimalVarint { at });
        }
        Ok(value)
    }

    /// `opaque x<V>`.
    pub fn opaque(&mut self, what: &'static str) -> Result<&'a [u8], Error> {
        let len = self.varint()? as usize;
        self.bytes(len, what)
    }

    /// A vector `T x<V>`: a reader over its content.
    pub fn vector(&mut self, what: &'static str) -> Result<Reader<'a>, Error> {
        Ok(Reader::new(self.opaque(what)?))
    }

    /// `optional<T>`: the presence byte.
    pub fn present(&mut self, what: &'static str) -> Result<bool, Error> {
        let at = self.pos;
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(Error::BadValue {
                at,
                what,
                value: u64::from(v),
            }),
        }
    }
}

/// Appends RFC 9420 encodings to a byte vector.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// A variable-length integer; lengths above 2^30 - 1 cannot be written (RFC 9420 §2.1.2),
    /// and no structure we build comes near that.
    pub fn varint(&mut self, v: usize) -> &mut Self {
        if v < 64 {
            self.buf.push(v as u8);
        } else if v < 16384 {
            self.buf
                .extend_from_slice(&((v as u16) | 0x4000).to_be_bytes());
        } else {
            let v = (v as u32) & 0x3fff_ffff;
            self.buf.extend_from_slice(&(v | 0x8000_0000).to_be_bytes());
        }
        self
    }

    /// `opaque x<V>`.
    pub fn opaque(&mut self, bytes: &[u8]) -> &mut Self {
        self.varint(bytes.len());
        self.raw(bytes)
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// `opaque x<V>` as a fresh vector.
pub fn opaque(bytes: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.opaque(bytes);
    w.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trips_and_rejects_non_minimal() {
        for v in [0usize, 1, 63, 64, 16383, 16384, 1 << 29] {
            let mut w = Writer::new();
            w.varint(v);
            let bytes = w.into_bytes();
            assert_eq!(Reader::new(&bytes).varint(), Ok(v as u32));
        }
        assert!(matches!(
            Reader::new(&[0x40, 0x01]).varint(),
            Err(Error::NonMinimalVarint { .. })
        ));
        assert!(matches!(
            Reader::new(&[0xc0]).varint(),
            Err(Error::BadVarint { .. })
        ));
        assert!(matches!(
            Reader::new(&[0x80, 0x00]).varint(),
            Err(Error::Truncated { .. })
        ));
    }
}
