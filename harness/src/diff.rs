//! `p2mls diff`.
