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
            // Long runs are base64 blobs (which may hold '/'); shorter ones are path-like.
            if word.len() >= 40 || !word.contains('/') {
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
    fn volatile_values_are_replaced() {
        let text = "curl http://127.0.0.1:43123/x/0123456789abcdef0123 alice-1a2b3c4d@localhost AAAAB3NzaC1yc2EAAAADAQABAAABAQ== 404";
        let out = redact(text);
        assert_eq!(
            out,
            "curl http://127.0.0.1:<port>/x/<id> alice-<run>@localhost <blob> 404"
        );
    }
}
