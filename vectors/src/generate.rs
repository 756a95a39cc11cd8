//! Generator (stub).
