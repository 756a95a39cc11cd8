//! One module per resource, each exposing `router()`.

pub mod core;
pub mod groups;
pub mod keypackages;
pub mod relay;
