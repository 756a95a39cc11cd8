//! The four report files, written the same way by every command that writes reports.

use std::path::Path;

/// Writes `report.json` (pretty, with a final newline), `junit.xml`, `report.md` and
/// `report.html` into `dir`, creating it.
pub fn write_reports(
    dir: &Path,
    json: &serde_json::Value,
    junit: &str,
    markdown: &str,
    html: &str,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(json).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("report.json"), json + "\n")?;
    std::fs::write(dir.join("junit.xml"), junit)?;
    std::fs::write(dir.join("report.md"), markdown)?;
    std::fs::write(dir.join("report.html"), html)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_files_land_in_a_new_directory() {
        let dir = std::env::temp_dir().join(format!("p2mls-report-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let nested = dir.join("out");
        write_reports(
            &nested,
            &serde_json::json!({"a": 1}),
            "<x/>",
            "# r\n",
            "<!DOCTYPE html>\n",
        )
        .expect("writes");
        let read = |f: &str| std::fs::read_to_string(nested.join(f)).expect("written");
        assert_eq!(read("report.json"), "{\n  \"a\": 1\n}\n");
        assert_eq!(read("junit.xml"), "<x/>");
        assert_eq!(read("report.md"), "# r\n");
        assert_eq!(read("report.html"), "<!DOCTYPE html>\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
