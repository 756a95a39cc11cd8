//! Groups, their members, and the proposals and commits the DS ordered for them.

use std::collections::BTreeSet;

use rusqlite::OptionalExtension;
use serde_json::Value;

use super::tx::{parse_json, Tx};
use crate::error::ApiError;

/// A group as one of its members sees it.
pub struct GroupRow {
    pub suite: u16,
    pub epoch: u64,
    pub public_key: String,
    /// The leaf of the member it was loaded for.
    pub caller_leaf: u32,
}

/// A member with its role and the JSON of the KeyPackage it joined with.
pub struct MemberRow {
    pub fid: String,
    pub role: String,
    pub keypackage: Value,
}

impl Tx<'_> {
    /// The group, if `fid` is one of its members (for anyone else it does not exist).
    pub fn group_for_member(
        &self,
        group_id: &str,
        fid: &str,
    ) -> Result<Option<GroupRow>, ApiError> {
        Ok(self
            .0
            .query_row(
                "SELECT g.suite, g.epoch, g.public_key, m.leaf_index FROM groups g \
                 JOIN members m ON m.group_id = g.id AND m.fid = ?2 WHERE g.id = ?1",
                (group_id, fid),
                |r| {
                    Ok(GroupRow {
                        suite: r.get(0)?,
                        epoch: r.get(1)?,
                        public_key: r.get(2)?,
                        caller_leaf: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// Whether a group exists at all, member or not (only the status-rewriting faults ask).
    pub fn group_exists(&self, group_id: &str) -> Result<bool, ApiError> {
        Ok(self
            .0
            .query_row("SELECT 1 FROM groups WHERE id = ?1", [group_id], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// A new group at epoch 0.
    pub fn insert_group(
        &self,
        group_id: &str,
        suite: u16,
        public_key: &str,
    ) -> Result<(), ApiError> {
        self.0.execute(
            "INSERT INTO groups (id, suite, epoch, public_key) VALUES (?1, ?2, 0, ?3)",
            (group_id, suite, public_key),
        )?;
        Ok(())
    }

    pub fn set_epoch(&self, group_id: &str, epoch: u64) -> Result<(), ApiError> {
        self.0.execute(
            "UPDATE groups SET epoch = ?2 WHERE id = ?1",
            (group_id, epoch),
        )?;
        Ok(())
    }

    pub fn insert_member(
        &self,
        group_id: &str,
        fid: &str,
        role: &str,
        keypackage: &Value,
        leaf_index: u32,
    ) -> Result<(), ApiError> {
        self.0.execute(
            "INSERT INTO members (group_id, fid, role, keypackage, leaf_index) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            (group_id, fid, role, keypackage.to_string(), leaf_index),
        )?;
        Ok(())
    }

    pub fn remove_member(&self, group_id: &str, fid: &str) -> Result<(), ApiError> {
        self.0.execute(
            "DELETE FROM members WHERE group_id = ?1 AND fid = ?2",
            (group_id, fid),
        )?;
        Ok(())
    }

    /// The members in leaf order.
    pub fn members(&self, group_id: &str) -> Result<Vec<MemberRow>, ApiError> {
        let mut stmt = self.0.prepare(
            "SELECT fid, role, keypackage FROM members WHERE group_id = ?1 ORDER BY leaf_index",
        )?;
        let rows = stmt
            .query_map([group_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get(1)?, r.get::<_, String>(2)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(fid, role, kp)| member_row(fid, role, &kp))
            .collect()
    }

    /// One member; `member_id` matches the FID case-insensitively (PROFILE.group-members)
    /// unless the fault compares byte for byte.
    pub fn member(
        &self,
        group_id: &str,
        member_id: &str,
        case_sensitive: bool,
    ) -> Result<Option<MemberRow>, ApiError> {
        let sql = if case_sensitive {
            "SELECT fid, role, keypackage FROM members WHERE group_id = ?1 AND fid = ?2"
        } else {
            "SELECT fid, role, keypackage FROM members WHERE group_id = ?1 \
             AND fid = ?2 COLLATE NOCASE"
        };
        let row: Option<(String, String, String)> = self
            .0
            .query_row(sql, (group_id, member_id), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        row.map(|(fid, role, kp)| member_row(fid, role, &kp))
            .transpose()
    }

    /// The members' FIDs in leaf order (whom a group's events go to).
    pub fn member_fids(&self, group_id: &str) -> Result<Vec<String>, ApiError> {
        let mut stmt = self
            .0
            .prepare("SELECT fid FROM members WHERE group_id = ?1 ORDER BY leaf_index")?;
        let rows = stmt.query_map([group_id], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    pub fn is_member(&self, group_id: &str, fid: &str) -> Result<bool, ApiError> {
        Ok(self
            .0
            .query_row(
                "SELECT 1 FROM members WHERE group_id = ?1 AND fid = ?2",
                (group_id, fid),
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// The FID of the member at a leaf.
    pub fn member_at_leaf(&self, group_id: &str, leaf: u32) -> Result<Option<String>, ApiError> {
        Ok(self
            .0
            .query_row(
                "SELECT fid FROM members WHERE group_id = ?1 AND leaf_index = ?2",
                (group_id, leaf),
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn occupied_leaves(&self, group_id: &str) -> Result<BTreeSet<u32>, ApiError> {
        let mut stmt = self
            .0
            .prepare("SELECT leaf_index FROM members WHERE group_id = ?1")?;
        let rows = stmt.query_map([group_id], |r| r.get::<_, u32>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whether a proposal with this id was submitted to the group before (in any epoch).
    pub fn proposal_submitted(&self, group_id: &str, proposal_id: &str) -> Result<bool, ApiError> {
        Ok(self
            .0
            .query_row(
                "SELECT 1 FROM proposals WHERE group_id = ?1 AND json ->> '$.proposal.id' = ?2",
                (group_id, proposal_id),
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Stores a proposal record (`{proposal, adds, removes}`) for the epoch it was made in.
    pub fn insert_proposal(
        &self,
        group_id: &str,
        epoch: u64,
        record: &Value,
    ) -> Result<(), ApiError> {
        self.0.execute(
            "INSERT INTO proposals (group_id, epoch, json) VALUES (?1, ?2, ?3)",
            (group_id, epoch, record.to_string()),
        )?;
        Ok(())
    }

    /// Uncommitted proposal records of an epoch, in submission order.
    pub fn pending_proposals(&self, group_id: &str, epoch: u64) -> Result<Vec<Value>, ApiError> {
        let mut stmt = self.0.prepare(
            "SELECT json FROM proposals WHERE group_id = ?1 AND epoch = ?2 AND committed = 0 \
             ORDER BY seq",
        )?;
        let rows = stmt
            .query_map((group_id, epoch), |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.iter().map(|json| parse_json(json)).collect()
    }

    /// Marks an epoch's proposals as committed.
    pub fn commit_proposals(&self, group_id: &str, epoch: u64) -> Result<(), ApiError> {
        self.0.execute(
            "UPDATE proposals SET committed = 1 WHERE group_id = ?1 AND epoch = ?2",
            (group_id, epoch),
        )?;
        Ok(())
    }

    /// Stores the commit that created `epoch`.
    pub fn insert_commit(
        &self,
        group_id: &str,
        epoch: u64,
        commit: &Value,
    ) -> Result<(), ApiError> {
        self.0.execute(
            "INSERT INTO commits (group_id, epoch, json) VALUES (?1, ?2, ?3)",
            (group_id, epoch, commit.to_string()),
        )?;
        Ok(())
    }

    /// The commit that created the current epoch, if any did.
    pub fn latest_commit(&self, group_id: &str) -> Result<Option<Value>, ApiError> {
        let json: Option<String> = self
            .0
            .query_row(
                "SELECT json FROM commits WHERE group_id = ?1 ORDER BY epoch DESC LIMIT 1",
                [group_id],
                |r| r.get(0),
            )
            .optional()?;
        json.as_deref().map(parse_json).transpose()
    }

    /// Commits that created epochs after `since`, in epoch order (PROFILE.commit-history).
    pub fn commits_since(&self, group_id: &str, since: i64) -> Result<Vec<Value>, ApiError> {
        let mut stmt = self.0.prepare(
            "SELECT json FROM commits WHERE group_id = ?1 AND epoch > ?2 ORDER BY epoch",
        )?;
        let rows = stmt
            .query_map((group_id, since), |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.iter().map(|json| parse_json(json)).collect()
    }
}

fn member_row(fid: String, role: String, keypackage: &str) -> Result<MemberRow, ApiError> {
    Ok(MemberRow {
        fid,
        role,
        keypackage: parse_json(keypackage)?,
    })
}
