//! Markdown helpers for report.md: table cells, table heads and the summary table both reports
//! open with.

use crate::Summary;

/// Text made safe for one table cell: a `|` would end the cell, a newline the row.
pub fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The head row and separator of a table with these columns.
pub fn table_head(columns: &[&str]) -> String {
    format!(
        "| {} |\n|{}\n",
        columns.join(" | "),
        "---|".repeat(columns.len())
    )
}

/// The five counts as a one-row table.
pub fn summary_table(s: &Summary) -> String {
    format!(
        "{}| {} | {} | {} | {} | {} |\n",
        table_head(&["pass", "fail", "non-strict", "unsupported", "error"]),
        s.pass,
        s.fail,
        s.non_strict,
        s.unsupported,
        s.error
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_stay_in_their_row_and_column() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }

    #[test]
    fn the_summary_table_has_all_five_counts() {
        let s = Summary {
            pass: 1,
            fail: 2,
            non_strict: 3,
            unsupported: 4,
            error: 5,
        };
        assert_eq!(
            summary_table(&s),
            "| pass | fail | non-strict | unsupported | error |\n|---|---|---|---|---|\n| 1 | 2 | 3 | 4 | 5 |\n"
        );
    }
}
