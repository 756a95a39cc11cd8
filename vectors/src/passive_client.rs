//! Shared passive-client logic (stub).
