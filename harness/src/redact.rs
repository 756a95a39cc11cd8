//! Redaction for the deterministic report: values that change from run to run (hex ids, keys,
//! base64 blobs, ports, run tags) become placeholders, so that a snapshot compares behaviour only.

/// Replaces volatile tokens in `text`.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        // ":<port>" after a loopback host.
        if chars[i] == ':' && out.ends_with("127.0.0.1") {
            let start = i + 1;
            let mut j = start;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            if j > start {
                out.push_str(":<port>");
                i = j;
                continue;
            }
        }
        if chars[i].is_ascii_alphanumeric() || chars[i] == '+' || chars[i] == '/' {
            let start = i;
            let mut j = i;
            while j < chars.len()
                && (chars[j].is_ascii_alphanumeric() || "+/=-_".contains(chars[j]))
            {
                j += 1;
            }
            let word: String = chars[start..j].iter().collect();
            // Long runs are base64 blobs (which may hold '/'), unless they read as a path: a
            // route keeps its words and only its ids become placeholders.
            if !path_like(&word) && (word.len() >= 40 || !word.contains('/')) {
                out.push_str(&redact_word(&word));
            } else {
                let parts: Vec<String> = word.split('/').map(redact_word).collect();
                out.push_str(&parts.join("/"));
            }
            i = j;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// A run with '/' that has a lowercase word among its segments (`p2/mls/v1/groups/<id>`), which
/// base64 practically never does, and no segment too long for a path.
fn path_like(word: &str) -> bool {
    let segments: Vec<&str> = word.split('/').collect();
    segments.len() > 2
        && segments
            .iter()
            .any(|s| s.len() >= 3 && s.chars().all(|c| c.is_ascii_lowercase()))
        && segments.iter().all(|s| s.len() < 64)
}

fn redact_word(word: &str) -> String {
    // Actor names carry a per-run tag: alice-1a2b3c4d.
    if let Some((name, tag)) = word.split_once('-') {
        if ["alice", "bob", "carol"].contains(&name)
            && tag.len() == 8
            && tag.chars().all(|c| c.is_ascii_hexdigit())
        {
            return format!("{name}-<run>");
        }
    }
    let has_digit = word.chars().any(|c| c.is_ascii_digit());
    if word.len() >= 16 && has_digit && word.chars().all(|c| c.is_ascii_hexdigit()) {
        return "<id>".into();
    }
    if word.len() >= 20 && has_digit {
        return "<blob>".into();
    }
    word.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_keep_their_words() {
        let text = "curl -X POST http://127.0.0.1:4000/.p2/mls/v1/groups/81a999781f92e7d13df20a8e5b6fdc24/commits";
        assert_eq!(
            redact(text),
            "curl -X POST http://127.0.0.1:<port>/.p2/mls/v1/groups/<id>/commits"
        );
        // A base64 blob with '/' is still one placeholder.
        assert_eq!(
            redact("AAAAB3NzaC1yc2EAAAADAQAB/AAABAQCx9Y+Z/abc1234567890QQ=="),
            "<blob>"
        );
    }

    #[test]
    fn volatile_values_are_replaced() {
        let text = "curl http://127.0.0.1:43123/x/0123456789abcdef0123 alice-1a2b3c4d@localhost AAAAB3NzaC1yc2EAAAADAQABAAABAQ== 404";
        let out = redact(text);
        assert_eq!(
            out,
            "curl http://127.0.0.1:<port>/x/<id> alice-<run>@localhost <blob> 404"
        );
    }
}
