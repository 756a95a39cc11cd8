//! Named faults: each breaks exactly one rule so that tests can show the harness noticing.
//! They are enabled only by an explicit `--fault NAME`; the default server has none.

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// MLS routes answer without a bearer token (acting for the newest session).
    NoAuth,
    /// Discovery hands a consumed KeyPackage out again instead of deleting it.
    KeypackageReuse,
    /// The gateway's hello carries s = 1 instead of 0.
    HelloSeqOne,
    /// The gateway never confirms a successful identify.
    NoReady,
    /// Every gateway close uses 4000 instead of the specific code.
    WrongCloseCode,
    /// The gateway skips a sequence number after the hello.
    SequenceGap,
    /// Heartbeats are never acknowledged.
    NoHeartbeatAck,
    /// Heartbeat ACKs never re-send the events listed in `except`.
    AckWithoutResend,
    /// A silent client is closed without a heartbeat request first.
    NoHeartbeatRequest,
    /// Service channel ACKs lack the `success` field.
    AckWithoutSuccess,
    /// Unknown services are acknowledged as subscribed.
    UnknownServiceAccepted,
    /// Resumed events carry nothing of what was missed.
    ResumeEmpty,
    /// `mls` events are never delivered.
    DropMlsEvents,
    /// Welcomes are accepted with their commit but never delivered to the invitees.
    DropWelcome,
    /// Commits since an epoch are listed newest first.
    ReorderCommits,
    /// Discovery ignores the ciphersuites filter.
    IgnoreSuiteFilter,
    /// One byte of every relayed application message is flipped.
    FlipRelayedByte,
}
