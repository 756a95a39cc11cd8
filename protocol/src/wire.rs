//! Small readers for RFC 9420 wire structures that a Delivery Service inspects without group
//! secrets: the MLSMessage header, the public part of a PublicMessage, and trailing opaque
//! fields (signatures and tags) whose lengths the cipher suite fixes.
//!
//! openmls keeps these fields private on its parsed types, so the server reads them here.

use crate::Error;

/// RFC 9420 §6 wire formats.
pub mod wire_format {
    pub const PUBLIC_MESSAGE: u16 = 1;
    pub const PRIVATE_MESSAGE: u16 = 2;
    pub const WELCOME: u16 = 3;
    pub const GROUP_INFO: u16 = 4;
    pub const KEY_PACKAGE: u16 = 5;
}

/// RFC 9420 §6 content types.
pub mod content_type {
    pub const APPLICATION: u8 = 1;
    pub const PROPOSAL: u8 = 2;
    pub const COMMIT: u8 = 3;
}

/// Who sent a PublicMessage (RFC 9420 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    Member { leaf_index: u32 },
    External { sender_index: u32 },
    NewMemberProposal,
    NewMemberCommit,
}

/// The fields of a PublicMessage that precede its content body, plus the proposal type when the
/// content is a proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicMessageHeader {
    pub group_id: Vec<u8>,
    pub epoch: u64,
    pub sender: Sender,
    pub content_type: u8,
    /// The RFC 9420 ProposalType, present when `content_type` is proposal.
    pub proposal_type: Option<u16>,
    /// Offset of the content body (after `content_type`) within the message bytes.
    pub body_offset: usize,
}

/// A forward reader over TLS presentation-language bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).ok_or(Error::Truncated(what))?;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or(Error::Truncated(what))?;
        self.pos = end;
        Ok(slice)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, Error> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, Error> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, Error> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, Error> {
        let b = self.take(8, what)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(b);
        Ok(u64::from_be_bytes(array))
    }

    fn opaque(&mut self, what: &'static str) -> Result<&'a [u8], Error> {
        let (len, used) = read_varint(&self.bytes[self.pos.min(self.bytes.len())..], what)?;
        self.pos += used;
        self.take(len, what)
    }
}

/// Decodes an RFC 9420 §2.1.2 variable-length integer: returns (value, bytes used).
fn read_varint(bytes: &[u8], what: &'static str) -> Result<(usize, usize), Error> {
    let first = *bytes.first().ok_or(Error::Truncated(what))?;
    let used = match first >> 6 {
        0 => 1,
        1 => 2,
        2 => 4,
        _ => return Err(Error::InvalidVarint(what)),
    };
    let raw = bytes.get(..used).ok_or(Error::Truncated(what))?;
    let mut value = usize::from(first & 0x3F);
    for b in &raw[1..] {
        value = (value << 8) | usize::from(*b);
    }
    Ok((value, used))
}

/// Encodes a length as an RFC 9420 variable-length integer (minimal form).
pub fn encode_varint(len: usize) -> Vec<u8> {
    match len {
        0..=0x3F => vec![len as u8],
        0x40..=0x3FFF => vec![0x40 | (len >> 8) as u8, len as u8],
        _ => {
            let v = len as u32 | 0x8000_0000;
            v.to_be_bytes().to_vec()
        }
    }
}

/// Reads the MLSMessage header: (protocol version, wire format).
pub fn message_header(bytes: &[u8]) -> Result<(u16, u16), Error> {
    let mut r = Reader { bytes, pos: 0 };
    Ok((r.u16("version")?, r.u16("wire_format")?))
}

/// Reads the public fields of an MLSMessage that carries a PublicMessage.
pub fn public_message_header(bytes: &[u8]) -> Result<PublicMessageHeader, Error> {
    let mut r = Reader { bytes, pos: 0 };
    let version = r.u16("version")?;
    if version != 1 {
        return Err(Error::UnsupportedVersion(version));
    }
    let wire = r.u16("wire_format")?;
    if wire != wire_format::PUBLIC_MESSAGE {
        return Err(Error::NotPublicMessage(wire));
    }
    let group_id = r.opaque("group_id")?.to_vec();
    let epoch = r.u64("epoch")?;
    let sender = match r.u8("sender_type")? {
        1 => Sender::Member {
            leaf_index: r.u32("leaf_index")?,
        },
        2 => Sender::External {
            sender_index: r.u32("sender_index")?,
        },
        3 => Sender::NewMemberProposal,
        4 => Sender::NewMemberCommit,
        other => return Err(Error::UnknownSenderType(other)),
    };
    r.opaque("authenticated_data")?;
    let content_type = r.u8("content_type")?;
    let body_offset = r.pos;
    let proposal_type = if content_type == content_type::PROPOSAL {
        Some(r.u16("proposal_type")?)
    } else {
        None
    };
    Ok(PublicMessageHeader {
        group_id,
        epoch,
        sender,
        content_type,
        proposal_type,
        body_offset,
    })
}

/// The public fields of a PrivateMessage (RFC 9420 §6.3): group, epoch, content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateMessageHeader {
    pub group_id: Vec<u8>,
    pub epoch: u64,
    pub content_type: u8,
}

/// Reads the public fields of an MLSMessage that carries a PrivateMessage.
pub fn private_message_header(bytes: &[u8]) -> Result<PrivateMessageHeader, Error> {
    let mut r = Reader { bytes, pos: 0 };
    let version = r.u16("version")?;
    if version != 1 {
        return Err(Error::UnsupportedVersion(version));
    }
    let wire = r.u16("wire_format")?;
    if wire != wire_format::PRIVATE_MESSAGE {
        return Err(Error::NotPublicMessage(wire));
    }
    let group_id = r.opaque("group_id")?.to_vec();
    let epoch = r.u64("epoch")?;
    let content_type = r.u8("content_type")?;
    r.opaque("authenticated_data")?;
    r.opaque("encrypted_sender_data")?;
    r.opaque("ciphertext")?;
    if r.pos != bytes.len() {
        return Err(Error::Truncated("trailing bytes after PrivateMessage"));
    }
    Ok(PrivateMessageHeader {
        group_id,
        epoch,
        content_type,
    })
}

/// Splits a trailing `opaque field<V>` of exactly `len` bytes off the end of `bytes`:
/// returns (the bytes before it, the field). None when the bytes do not end in such a field.
pub fn split_trailing_opaque(bytes: &[u8], len: usize) -> Option<(&[u8], &[u8])> {
    let prefix = encode_varint(len);
    let total = prefix.len() + len;
    let start = bytes.len().checked_sub(total)?;
    let (rest, field) = bytes.split_at(start);
    field
        .starts_with(&prefix)
        .then(|| (rest, &field[prefix.len()..]))
}

/// The public parts of a Welcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WelcomeParts {
    pub cipher_suite: u16,
    /// The `new_member` KeyPackageRefs, in order.
    pub new_members: Vec<Vec<u8>>,
    pub encrypted_group_info: Vec<u8>,
}

/// Reads a Welcome MLSMessage.
pub fn welcome_parts(bytes: &[u8]) -> Result<WelcomeParts, Error> {
    let mut r = Reader { bytes, pos: 0 };
    let version = r.u16("version")?;
    if version != 1 {
        return Err(Error::UnsupportedVersion(version));
    }
    let wire = r.u16("wire_format")?;
    if wire != wire_format::WELCOME {
        return Err(Error::NotPublicMessage(wire));
    }
    let suite = r.u16("cipher_suite")?;
    let secrets = r.opaque("secrets")?;
    let mut inner = Reader {
        bytes: secrets,
        pos: 0,
    };
    let mut new_members = Vec::new();
    while inner.pos < secrets.len() {
        new_members.push(inner.opaque("new_member")?.to_vec());
        inner.opaque("kem_output")?;
        inner.opaque("ciphertext")?;
    }
    let info = r.opaque("encrypted_group_info")?.to_vec();
    if r.pos != bytes.len() {
        return Err(Error::Truncated("trailing bytes after Welcome"));
    }
    Ok(WelcomeParts {
        cipher_suite: suite,
        new_members,
        encrypted_group_info: info,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for len in [0usize, 1, 63, 64, 100, 16383, 16384, 1 << 20] {
            let enc = encode_varint(len);
            assert_eq!(read_varint(&enc, "t"), Ok((len, enc.len())));
        }
        assert_eq!(read_varint(&[0xC0], "t"), Err(Error::InvalidVarint("t")));
    }

    #[test]
    fn trailing_opaque_requires_matching_prefix() {
        let mut bytes = vec![9, 9, 0x40, 0x40];
        bytes.extend([7u8; 64]);
        let (rest, sig) = split_trailing_opaque(&bytes, 64).expect("field");
        assert_eq!(rest, &[9, 9]);
        assert_eq!(sig, &[7u8; 64][..]);
        assert!(split_trailing_opaque(&bytes, 32).is_none());
        assert!(split_trailing_opaque(&bytes[..10], 64).is_none());
    }

    #[test]
    fn public_header_of_a_proposal() {
        // version 1, public, group_id "g", epoch 3, member leaf 2, no aad, proposal, type Add(1)
        let mut bytes = vec![0, 1, 0, 1, 1, b'g'];
        bytes.extend(3u64.to_be_bytes());
        bytes.extend([1, 0, 0, 0, 2, 0, 2, 0, 1]);
        let header = public_message_header(&bytes).expect("header");
        assert_eq!(header.group_id, b"g");
        assert_eq!(header.epoch, 3);
        assert_eq!(header.sender, Sender::Member { leaf_index: 2 });
        assert_eq!(header.proposal_type, Some(1));
        assert!(public_message_header(&bytes[..8]).is_err());
    }
}
