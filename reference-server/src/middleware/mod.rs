//! The layers around every route (kept apart from the types they use, which `AppState` holds,
//! so that no module both feeds the state and reads it).

pub mod fault_rewrite;
pub mod rate_limit;
pub mod visible_domain;
