//! One module per resource, each exposing `router()`; `group_access` is the membership check
//! the group and relay routes share.

pub mod core;
pub mod group_access;
pub mod groups;
pub mod keymaterial;
pub mod keypackages;
pub mod relay;
