//! Judging with the harness's own code: pure functions over what a target answered, that share
//! nothing with the reference server (Complement's rule), and nothing with lint: `response` judges
//! a status, the profile's error body and conformance to the document; `attribution` tells a
//! document defect from a server failure with `p2mls_openapi`'s schema facts; `idcert` reads and
//! judges ID-Certs with x509-parser.

pub mod attribution;
pub mod idcert;
pub mod response;
