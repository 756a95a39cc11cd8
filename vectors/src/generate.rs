//! Generator (filled in below).

use std::path::Path;

/// Generated files: (file name, JSON text).
pub type Files = Vec<(&'static str, String)>;

pub fn generate(_wire: u16, _seed: u64) -> Result<Files, String> {
    Err("not implemented yet".into())
}

pub fn write(dir: &Path, files: &Files) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in files {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}
