//! Judging with the harness's own code: pure functions over what a target answered, that share
//! nothing with the reference server (Complement's rule).

pub mod attribution;
pub mod idcert;
