//! Attribution for `p2mls run`: whether a response that fails validation is explained by a
//! schema defect that lint flags (then it is a spec finding, not a server failure).
