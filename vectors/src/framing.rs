//! Message framing structures of RFC 9420 (§6, §12) read with our codec, keeping the raw bytes
//! that are signed, MACed, hashed or encrypted. openmls keeps FramedContent, Commit, GroupSecrets
//! and the TBS/TBM structures private, so the verifiers that need them read them here.
//!
//! ```text
//! FramedContent = struct { opaque group_id<V>; uint64 epoch; Sender sender;
//!     opaque authenticated_data<V>; ContentType content_type;
//!     select (content_type) { application: opaque application_data<V>;
//!                             proposal: Proposal; commit: Commit; } }
//! FramedContentAuthData = struct { opaque signature<V>;
//!     select (content_type) { commit: MAC confirmation_tag; default: ; } }
//! FramedContentTBS = struct { ProtocolVersion version; WireFormat wire_format;
//!     FramedContent content; select (sender_type) { member, new_member_commit: GroupContext; } }
//! ```

use crate::codec::{Reader, Writer};
use crate::tree::LeafNode;
use crate::Error;

pub const WIRE_PUBLIC_MESSAGE: u16 = 1;
pub const WIRE_PRIVATE_MESSAGE: u16 = 2;
pub const WIRE_WELCOME: u16 = 3;
pub const WIRE_GROUP_INFO: u16 = 4;
pub const WIRE_KEY_PACKAGE: u16 = 5;

pub const CONTENT_APPLICATION: u8 = 1;
pub const CONTENT_PROPOSAL: u8 = 2;
pub const CONTENT_COMMIT: u8 = 3;

/// Sender (§6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    Member(u32),
    External(u32),
    NewMemberProposal,
    NewMemberCommit,
}

impl Sender {
    pub fn parse(r: &mut Reader<'_>) -> Result<Self, Error> {
        let at = r.position();
        Ok(match r.u8("Sender.sender_type")? {
            1 => Sender::Member(r.u32("Sender.leaf_index")?),
            2 => Sender::External(r.u32("Sender.sender_index")?),
            3 => Sender::NewMemberProposal,
            4 => Sender::NewMemberCommit,
            v => {
                return Err(Error::BadValue {
                    at,
                    what: "Sender.sender_type",
                    value: u64::from(v),
                })
            }
        })
    }

    pub fn encode(&self, w: &mut Writer) {
        match self {
            Sender::Member(i) => {
                w.u8(1).u32(*i);
            }
            Sender::External(i) => {
                w.u8(2).u32(*i);
            }
            Sender::NewMemberProposal => {
                w.u8(3);
            }
            Sender::NewMemberCommit => {
                w.u8(4);
            }
        }
    }
}

/// A KeyPackage (§10) with the slices needed to verify and reference it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPackage {
    pub raw: Vec<u8>,
    pub version: u16,
    pub cipher_suite: u16,
    pub init_key: Vec<u8>,
    pub leaf_node: LeafNode,
    /// KeyPackageTBS: everything before the signature.
    pub tbs: Vec<u8>,
    pub signature: Vec<u8>,
}

impl KeyPackage {
    pub fn parse(r: &mut Reader<'_>) -> Result<Self, Error> {
        let start = r.position();
        let version = r.u16("KeyPackage.version")?;
        let cipher_suite = r.u16("KeyPackage.cipher_suite")?;
        let init_key = r.opaque("KeyPackage.init_key")?.to_vec();
        let leaf_node = LeafNode::parse(r)?;
        r.opaque("KeyPackage.extensions")?;
        let tbs = r.slice(start, r.position()).to_vec();
        let signature = r.opaque("KeyPackage.signature")?.to_vec();
        Ok(KeyPackage {
            raw: r.slice(start, r.position()).to_vec(),
            version,
            cipher_suite,
            init_key,
            leaf_node,
            tbs,
            signature,
        })
    }
}

/// A PreSharedKeyID on the wire; returns (encoded bytes).
fn skip_psk_id(r: &mut Reader<'_>) -> Result<(), Error> {
    let at = r.position();
    match r.u8("PreSharedKeyID.psktype")? {
        1 => {
            r.opaque("PreSharedKeyID.psk_id")?;
        }
        2 => {
            r.u8("PreSharedKeyID.usage")?;
            r.opaque("PreSharedKeyID.psk_group_id")?;
            r.u64("PreSharedKeyID.psk_epoch")?;
        }
        v => {
            return Err(Error::BadValue {
                at,
                what: "PreSharedKeyID.psktype",
                value: u64::from(v),
            })
        }
    }
    r.opaque("PreSharedKeyID.psk_nonce")?;
    Ok(())
}

/// A Proposal (§12.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proposal {
    Add(KeyPackage),
    Update(LeafNode),
    Remove(u32),
    /// Other proposal types: their type and raw body.
    Other(u16, Vec<u8>),
}

impl Proposal {
    pub fn parse(r: &mut Reader<'_>) -> Result<Self, Error> {
        let at = r.position();
        let ty = r.u16("Proposal.proposal_type")?;
        let body_start = r.position();
        let p = match ty {
            1 => Proposal::Add(KeyPackage::parse(r)?),
            2 => Proposal::Update(LeafNode::parse(r)?),
            3 => Proposal::Remove(r.u32("Remove.removed")?),
            4 => {
                skip_psk_id(r)?;
                Proposal::Other(ty, r.slice(body_start, r.position()).to_vec())
            }
            5 => {
                r.opaque("ReInit.group_id")?;
                r.u16("ReInit.version")?;
                r.u16("ReInit.cipher_suite")?;
                r.opaque("ReInit.extensions")?;
                Proposal::Other(ty, r.slice(body_start, r.position()).to_vec())
            }
            6 => {
                r.opaque("ExternalInit.kem_output")?;
                Proposal::Other(ty, r.slice(body_start, r.position()).to_vec())
            }
            7 => {
                r.opaque("GroupContextExtensions.extensions")?;
                Proposal::Other(ty, r.slice(body_start, r.position()).to_vec())
            }
            v => {
                return Err(Error::BadValue {
                    at,
                    what: "Proposal.proposal_type",
                    value: u64::from(v),
                })
            }
        };
        Ok(p)
    }
}

/// ProposalOrRef (§12.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProposalOrRef {
    Proposal(Box<Proposal>),
    Reference(Vec<u8>),
}

/// UpdatePathNode (§7.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatePathNode {
    pub encryption_key: Vec<u8>,
    /// (kem_output, ciphertext) per resolution member.
    pub encrypted_path_secret: Vec<(Vec<u8>, Vec<u8>)>,
}

/// UpdatePath (§7.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatePath {
    pub leaf_node: LeafNode,
    pub nodes: Vec<UpdatePathNode>,
}

impl UpdatePath {
    pub fn parse(r: &mut Reader<'_>) -> Result<Self, Error> {
        let leaf_node = LeafNode::parse(r)?;
        let mut v = r.vector("UpdatePath.nodes")?;
        let mut nodes = Vec::new();
        while !v.is_empty() {
            let encryption_key = v.opaque("UpdatePathNode.encryption_key")?.to_vec();
            let mut c = v.vector("UpdatePathNode.encrypted_path_secret")?;
            let mut encrypted_path_secret = Vec::new();
            while !c.is_empty() {
                let kem = c.opaque("HPKECiphertext.kem_output")?.to_vec();
                let ct = c.opaque("HPKECiphertext.ciphertext")?.to_vec();
                encrypted_path_secret.push((kem, ct));
            }
            nodes.push(UpdatePathNode {
                encryption_key,
                encrypted_path_secret,
            });
        }
        Ok(UpdatePath { leaf_node, nodes })
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        let p = Self::parse(&mut r)?;
        r.finish("UpdatePath")?;
        Ok(p)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut nodes = Writer::new();
        for n in &self.nodes {
            let mut cts = Writer::new();
            for (kem, ct) in &n.encrypted_path_secret {
                cts.opaque(kem).opaque(ct);
            }
            nodes.opaque(&n.encryption_key).opaque(&cts.buf);
        }
        let mut w = Writer::new();
        w.raw(&self.leaf_node.raw).opaque(&nodes.buf);
        w.into_bytes()
    }
}

/// Commit (§12.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub proposals: Vec<ProposalOrRef>,
    pub path: Option<UpdatePath>,
}

impl Commit {
    pub fn parse(r: &mut Reader<'_>) -> Result<Self, Error> {
        let mut v = r.vector("Commit.proposals")?;
        let mut proposals = Vec::new();
        while !v.is_empty() {
            let at = v.position();
            match v.u8("ProposalOrRef.type")? {
                1 => proposals.push(ProposalOrRef::Proposal(Box::new(Proposal::parse(&mut v)?))),
                2 => proposals.push(ProposalOrRef::Reference(
                    v.opaque("ProposalOrRef.reference")?.to_vec(),
                )),
                t => {
                    return Err(Error::BadValue {
                        at,
                        what: "ProposalOrRef.type",
                        value: u64::from(t),
                    })
                }
            }
        }
        let path = if r.present("Commit.path")? {
            Some(UpdatePath::parse(r)?)
        } else {
            None
        };
        Ok(Commit { proposals, path })
    }
}

/// FramedContent (§6) with its encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramedContent {
    pub raw: Vec<u8>,
    pub group_id: Vec<u8>,
    pub epoch: u64,
    pub sender: Sender,
    pub authenticated_data: Vec<u8>,
    pub content_type: u8,
    /// The content-type specific part: application data (without length), or the encoded
    /// Proposal or Commit.
    pub content: Vec<u8>,
}

impl FramedContent {
    pub fn parse(r: &mut Reader<'_>) -> Result<Self, Error> {
        let start = r.position();
        let group_id = r.opaque("FramedContent.group_id")?.to_vec();
        let epoch = r.u64("FramedContent.epoch")?;
        let sender = Sender::parse(r)?;
        let authenticated_data = r.opaque("FramedContent.authenticated_data")?.to_vec();
        let (content_type, content) = parse_content(r)?;
        Ok(FramedContent {
            raw: r.slice(start, r.position()).to_vec(),
            group_id,
            epoch,
            sender,
            authenticated_data,
            content_type,
            content,
        })
    }

    /// FramedContent from its parts.
    pub fn build(
        group_id: &[u8],
        epoch: u64,
        sender: Sender,
        authenticated_data: &[u8],
        content_type: u8,
        content: &[u8],
    ) -> Self {
        let mut w = Writer::new();
        w.opaque(group_id).u64(epoch);
        sender.encode(&mut w);
        w.opaque(authenticated_data).u8(content_type);
        w.raw(&content_body(content_type, content));
        FramedContent {
            raw: w.into_bytes(),
            group_id: group_id.to_vec(),
            epoch,
            sender,
            authenticated_data: authenticated_data.to_vec(),
            content_type,
            content: content.to_vec(),
        }
    }

    /// FramedContentTBS for a member sender with the given GroupContext.
    pub fn tbs(&self, wire_format: u16, group_context: &[u8]) -> Vec<u8> {
        let mut w = Writer::new();
        w.u16(1).u16(wire_format).raw(&self.raw);
        if matches!(self.sender, Sender::Member(_) | Sender::NewMemberCommit) {
            w.raw(group_context);
        }
        w.into_bytes()
    }
}

/// The encoded content-type specific part (application data gets its length prefix).
pub fn content_body(content_type: u8, content: &[u8]) -> Vec<u8> {
    if content_type == CONTENT_APPLICATION {
        crate::codec::opaque(content)
    } else {
        content.to_vec()
    }
}

/// Reads `ContentType content_type` and the select after it.
pub fn parse_content(r: &mut Reader<'_>) -> Result<(u8, Vec<u8>), Error> {
    let at = r.position();
    let content_type = r.u8("FramedContent.content_type")?;
    let content_start = r.position();
    let content = match content_type {
        CONTENT_APPLICATION => r.opaque("FramedContent.application_data")?.to_vec(),
        CONTENT_PROPOSAL => {
            Proposal::parse(r)?;
            r.slice(content_start, r.position()).to_vec()
        }
        CONTENT_COMMIT => {
            Commit::parse(r)?;
            r.slice(content_start, r.position()).to_vec()
        }
        v => {
            return Err(Error::BadValue {
                at,
                what: "FramedContent.content_type",
                value: u64::from(v),
            })
        }
    };
    Ok((content_type, content))
}

/// AuthenticatedContent (§6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedContent {
    pub wire_format: u16,
    pub content: FramedContent,
    pub signature: Vec<u8>,
    pub confirmation_tag: Option<Vec<u8>>,
}

impl AuthenticatedContent {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        let wire_format = r.u16("AuthenticatedContent.wire_format")?;
        let content = FramedContent::parse(&mut r)?;
        let signature = r.opaque("FramedContentAuthData.signature")?.to_vec();
        let confirmation_tag = if content.content_type == CONTENT_COMMIT {
            Some(r.opaque("FramedContentAuthData.confirmation_tag")?.to_vec())
        } else {
            None
        };
        r.finish("AuthenticatedContent")?;
        Ok(AuthenticatedContent {
            wire_format,
            content,
            signature,
            confirmation_tag,
        })
    }

    /// ConfirmedTranscriptHashInput: wire_format || FramedContent || signature<V>.
    pub fn confirmed_transcript_input(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u16(self.wire_format)
            .raw(&self.content.raw)
            .opaque(&self.signature);
        w.into_bytes()
    }
}

/// MLSMessage header: (version, wire_format) and a reader at the body.
pub fn mls_message(bytes: &[u8]) -> Result<(u16, u16, Reader<'_>), Error> {
    let mut r = Reader::new(bytes);
    let version = r.u16("MLSMessage.version")?;
    let wire_format = r.u16("MLSMessage.wire_format")?;
    Ok((version, wire_format, r))
}

impl Proposal {
    /// The encoding (proposal type and body).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        match self {
            Proposal::Add(kp) => {
                w.u16(1).raw(&kp.raw);
            }
            Proposal::Update(leaf) => {
                w.u16(2).raw(&leaf.raw);
            }
            Proposal::Remove(i) => {
                w.u16(3).u32(*i);
            }
            Proposal::Other(ty, body) => {
                w.u16(*ty).raw(body);
            }
        }
        w.into_bytes()
    }
}

impl Commit {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        let c = Self::parse(&mut r)?;
        r.finish("Commit")?;
        Ok(c)
    }

    /// The encoding, rebuilt from the parsed fields.
    pub fn encode(&self) -> Vec<u8> {
        let mut props = Writer::new();
        for p in &self.proposals {
            match p {
                ProposalOrRef::Proposal(p) => {
                    props.u8(1).raw(&p.encode());
                }
                ProposalOrRef::Reference(r) => {
                    props.u8(2).opaque(r);
                }
            }
        }
        let mut w = Writer::new();
        w.opaque(&props.buf);
        match &self.path {
            Some(path) => {
                w.u8(1).raw(&path.encode());
            }
            None => {
                w.u8(0);
            }
        }
        w.into_bytes()
    }
}

/// GroupSecrets (§12.4.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSecrets {
    pub joiner_secret: Vec<u8>,
    pub path_secret: Option<Vec<u8>>,
    pub psks: Vec<crate::schedule::PskId>,
}

impl GroupSecrets {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        use crate::schedule::PskId;
        let mut r = Reader::new(bytes);
        let joiner_secret = r.opaque("GroupSecrets.joiner_secret")?.to_vec();
        let path_secret = if r.present("GroupSecrets.path_secret")? {
            Some(r.opaque("PathSecret.path_secret")?.to_vec())
        } else {
            None
        };
        let mut v = r.vector("GroupSecrets.psks")?;
        let mut psks = Vec::new();
        while !v.is_empty() {
            let at = v.position();
            let id = match v.u8("PreSharedKeyID.psktype")? {
                1 => {
                    let psk_id = v.opaque("PreSharedKeyID.psk_id")?.to_vec();
                    PskId::External {
                        psk_id,
                        nonce: v.opaque("PreSharedKeyID.psk_nonce")?.to_vec(),
                    }
                }
                2 => {
                    let usage = v.u8("PreSharedKeyID.usage")?;
                    let group_id = v.opaque("PreSharedKeyID.psk_group_id")?.to_vec();
                    let epoch = v.u64("PreSharedKeyID.psk_epoch")?;
                    PskId::Resumption {
                        usage,
                        group_id,
                        epoch,
                        nonce: v.opaque("PreSharedKeyID.psk_nonce")?.to_vec(),
                    }
                }
                t => {
                    return Err(Error::BadValue {
                        at,
                        what: "PreSharedKeyID.psktype",
                        value: u64::from(t),
                    })
                }
            };
            psks.push(id);
        }
        r.finish("GroupSecrets")?;
        Ok(GroupSecrets {
            joiner_secret,
            path_secret,
            psks,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut psks = Writer::new();
        for p in &self.psks {
            psks.raw(&p.encode());
        }
        let mut w = Writer::new();
        w.opaque(&self.joiner_secret);
        match &self.path_secret {
            Some(p) => {
                w.u8(1).opaque(p);
            }
            None => {
                w.u8(0);
            }
        }
        w.opaque(&psks.buf);
        w.into_bytes()
    }
}

/// Decodes a ReInit proposal body (§12.1.5) and re-encodes it from its fields.
pub fn reinit_round_trip(bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let mut r = Reader::new(bytes);
    let group_id = r.opaque("ReInit.group_id")?;
    let version = r.u16("ReInit.version")?;
    let suite = r.u16("ReInit.cipher_suite")?;
    let mut ext = r.vector("ReInit.extensions")?;
    let mut exts = Writer::new();
    while !ext.is_empty() {
        let ty = ext.u16("Extension.extension_type")?;
        let data = ext.opaque("Extension.extension_data")?;
        exts.u16(ty).opaque(data);
    }
    r.finish("ReInit")?;
    let mut w = Writer::new();
    w.opaque(group_id).u16(version).u16(suite).opaque(&exts.buf);
    Ok(w.into_bytes())
}

/// GroupContext (§8.1) as read from the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupContext {
    pub raw: Vec<u8>,
    pub cipher_suite: u16,
    pub group_id: Vec<u8>,
    pub epoch: u64,
    pub tree_hash: Vec<u8>,
    pub confirmed_transcript_hash: Vec<u8>,
    /// The content of `extensions<V>`.
    pub extensions: Vec<u8>,
}

impl GroupContext {
    pub fn parse(r: &mut Reader<'_>) -> Result<Self, Error> {
        let start = r.position();
        let at = r.position();
        let version = r.u16("GroupContext.version")?;
        if version != 1 {
            return Err(Error::BadValue {
                at,
                what: "GroupContext.version",
                value: u64::from(version),
            });
        }
        let cipher_suite = r.u16("GroupContext.cipher_suite")?;
        let group_id = r.opaque("GroupContext.group_id")?.to_vec();
        let epoch = r.u64("GroupContext.epoch")?;
        let tree_hash = r.opaque("GroupContext.tree_hash")?.to_vec();
        let confirmed_transcript_hash =
            r.opaque("GroupContext.confirmed_transcript_hash")?.to_vec();
        let extensions = r.opaque("GroupContext.extensions")?.to_vec();
        Ok(GroupContext {
            raw: r.slice(start, r.position()).to_vec(),
            cipher_suite,
            group_id,
            epoch,
            tree_hash,
            confirmed_transcript_hash,
            extensions,
        })
    }
}

/// GroupInfo (§12.4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    pub group_context: GroupContext,
    /// The content of `extensions<V>`.
    pub extensions: Vec<u8>,
    pub confirmation_tag: Vec<u8>,
    pub signer: u32,
    /// GroupInfoTBS: everything before the signature.
    pub tbs: Vec<u8>,
    pub signature: Vec<u8>,
}

impl GroupInfo {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        let group_context = GroupContext::parse(&mut r)?;
        let extensions = r.opaque("GroupInfo.extensions")?.to_vec();
        let confirmation_tag = r.opaque("GroupInfo.confirmation_tag")?.to_vec();
        let signer = r.u32("GroupInfo.signer")?;
        let tbs = r.slice(0, r.position()).to_vec();
        let signature = r.opaque("GroupInfo.signature")?.to_vec();
        r.finish("GroupInfo")?;
        Ok(GroupInfo {
            group_context,
            extensions,
            confirmation_tag,
            signer,
            tbs,
            signature,
        })
    }

    /// The `ratchet_tree` extension's data (type 2), if present.
    pub fn ratchet_tree_extension(&self) -> Result<Option<Vec<u8>>, Error> {
        let mut r = Reader::new(&self.extensions);
        while !r.is_empty() {
            let ty = r.u16("Extension.extension_type")?;
            let data = r.opaque("Extension.extension_data")?;
            if ty == 2 {
                return Ok(Some(data.to_vec()));
            }
        }
        Ok(None)
    }
}

/// Welcome (§12.4.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    pub cipher_suite: u16,
    /// (new_member KeyPackageRef, kem_output, ciphertext).
    pub secrets: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>,
    pub encrypted_group_info: Vec<u8>,
}

impl Welcome {
    pub fn parse(r: &mut Reader<'_>) -> Result<Self, Error> {
        let cipher_suite = r.u16("Welcome.cipher_suite")?;
        let mut v = r.vector("Welcome.secrets")?;
        let mut secrets = Vec::new();
        while !v.is_empty() {
            let new_member = v.opaque("EncryptedGroupSecrets.new_member")?.to_vec();
            let kem = v.opaque("HPKECiphertext.kem_output")?.to_vec();
            let ct = v.opaque("HPKECiphertext.ciphertext")?.to_vec();
            secrets.push((new_member, kem, ct));
        }
        let encrypted_group_info = r.opaque("Welcome.encrypted_group_info")?.to_vec();
        Ok(Welcome {
            cipher_suite,
            secrets,
            encrypted_group_info,
        })
    }
}

/// An MLSMessage of the given wire format: a reader positioned at its body.
pub fn expect_mls_message(bytes: &[u8], wire_format: u16) -> Result<Reader<'_>, Error> {
    let (version, wf, r) = mls_message(bytes)?;
    if version != 1 {
        return Err(Error::BadValue {
            at: 0,
            what: "MLSMessage.version",
            value: u64::from(version),
        });
    }
    if wf != wire_format {
        return Err(Error::BadValue {
            at: 2,
            what: "MLSMessage.wire_format",
            value: u64::from(wf),
        });
    }
    Ok(r)
}
