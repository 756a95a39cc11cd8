//! Catalogue truth: every requirement's `source` names a section and quotes a short key phrase
//! (at most twelve words) that must stand, whitespace-normalised, in that section of the named
//! document. A moved or misread location fails here. Entries of specs/PROFILE.md (ours) are
//! always checked; those of the spec text and the published OpenAPI documents need the
//! `shared/` directory (`P2MLS_SHARED`, set by `.ci/run`) and are skipped with a note without it.
//! Sources outside both (RFCs) carry no phrase and are listed.
//!
//! Syntax (see the header of specs/requirements.toml): `<file> <location>: "<phrase>"`.

use std::path::PathBuf;

use p2mls::catalogue::requirements;

/// Where each citable file lives: in the repository or under `shared/`.
fn file_path(file: &str, shared: Option<&PathBuf>) -> Option<PathBuf> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    match file {
        "specs/PROFILE.md" => Some(repo.join(file)),
        "polyproto-mls.md" | "polyproto-core.md" => shared.map(|s| s.join("spec-text").join(file)),
        "polyproto.mls-v0.1.0-alpha.4.yaml" | "polyproto.core-v1.0-beta.3.yaml" => {
            shared.map(|s| s.join("openapi-upstream/3.1.0").join(file))
        }
        _ => None,
    }
}

/// (file, location, phrase) of a source with a phrase.
fn parse_source(source: &str) -> Option<(&str, &str, &str)> {
    let (head, phrase) = source.split_once(": \"")?;
    let phrase = phrase.strip_suffix('"')?;
    let (file, location) = head.split_once(' ')?;
    Some((file, location, phrase))
}

fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The section number of a Markdown heading (`#### 3.2.2 Heartbeats`, `### 1.1. Suite`).
fn heading_number(line: &str) -> Option<&str> {
    let rest = line
        .strip_prefix('#')?
        .trim_start_matches('#')
        .strip_prefix(' ')?;
    let token = rest.split_whitespace().next()?.trim_end_matches('.');
    (!token.is_empty()
        && token
            .split('.')
            .all(|p| p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty()))
    .then_some(token)
}

/// Section `number` of a numbered Markdown document: from its heading to the next numbered
/// heading that is not one of its subsections; `preamble` is the text before the first.
fn markdown_section(text: &str, number: &str) -> String {
    let mut out = Vec::new();
    let mut inside = number == "preamble";
    for line in text.lines() {
        if let Some(n) = heading_number(line) {
            if number == "preamble" {
                break;
            }
            let within = n == number || n.starts_with(&format!("{number}."));
            if n == number {
                inside = true;
            } else if inside && !within {
                inside = false;
            }
        }
        if inside {
            out.push(line);
        }
    }
    out.join("\n")
}

/// The part of specs/PROFILE.md under the heading that starts with `PROFILE.x` (or contains
/// the words after `§`), to the next `##` or `###` heading.
fn profile_section(text: &str, location: &str) -> String {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("## ") || line.starts_with("### ") {
            let title = line.trim_start_matches('#').trim();
            inside = match location.strip_prefix('§') {
                Some(words) => title.contains(words),
                None => title == location || title.starts_with(&format!("{location} ")),
            };
        }
        if inside {
            out.push(line);
        }
    }
    out.join("\n")
}

/// The part of an OpenAPI document (YAML) a location names: the operation whose operationId is
/// in parentheses, a schema under `components.schemas.`, or else the whole document.
fn openapi_section(text: &str, location: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let is_method = |l: &str| {
        l.len() > 4
            && l.starts_with("    ")
            && !l[4..].starts_with(' ')
            && l.trim_end().ends_with(':')
            && l.trim()
                .trim_end_matches(':')
                .chars()
                .all(|c| c.is_ascii_lowercase())
    };
    if let Some(op) = location
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(op, _)| op)
    {
        let Some(at) = lines
            .iter()
            .position(|l| l.trim() == format!("operationId: {op}"))
        else {
            return String::new();
        };
        let start = (0..=at).rev().find(|&i| is_method(lines[i])).unwrap_or(at);
        let end = (at + 1..lines.len())
            .find(|&i| {
                is_method(lines[i])
                    || lines[i].starts_with("  /")
                    || !lines[i].starts_with(' ') && !lines[i].is_empty()
            })
            .unwrap_or(lines.len());
        return lines[start..end].join("\n");
    }
    if let Some(name) = location.strip_prefix("components.schemas.") {
        let name = name.split('.').next().unwrap_or_default();
        let Some(start) = lines.iter().position(|l| *l == format!("    {name}:")) else {
            return String::new();
        };
        let end = (start + 1..lines.len())
            .find(|&i| !(lines[i].starts_with("      ") || lines[i].trim().is_empty()))
            .unwrap_or(lines.len());
        return lines[start..end].join("\n");
    }
    text.to_owned()
}

fn section(file: &str, text: &str, location: &str) -> String {
    if file == "specs/PROFILE.md" {
        profile_section(text, location)
    } else if file.ends_with(".md") {
        location
            .split(',')
            .map(|part| markdown_section(text, part.trim().trim_start_matches('§')))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        openapi_section(text, location)
    }
}

#[test]
fn every_source_phrase_stands_in_the_section_it_names() {
    let shared = std::env::var("P2MLS_SHARED").ok().map(PathBuf::from);
    if shared.is_none() {
        eprintln!(
            "P2MLS_SHARED is unset: only specs/PROFILE.md phrases are checked (CI sets it to ../shared)"
        );
    }
    let mut problems = Vec::new();
    let mut without_phrase = Vec::new();
    let mut checked = 0;
    for req in requirements() {
        let Some((file, location, phrase)) = parse_source(&req.source) else {
            without_phrase.push(req.id.clone());
            continue;
        };
        let words = phrase.split_whitespace().count();
        if words == 0 || words > 12 {
            problems.push(format!(
                "{}: the phrase has {words} words (1 to 12)",
                req.id
            ));
        }
        let Some(path) = file_path(file, shared.as_ref()) else {
            if ![
                "polyproto-mls.md",
                "polyproto-core.md",
                "polyproto.mls-v0.1.0-alpha.4.yaml",
                "polyproto.core-v1.0-beta.3.yaml",
            ]
            .contains(&file)
            {
                problems.push(format!("{}: unknown source file {file}", req.id));
            }
            continue;
        };
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let part = section(file, &text, location);
        if part.trim().is_empty() {
            problems.push(format!("{}: {file} has no section {location}", req.id));
        } else if !normalise(&part).contains(&normalise(phrase)) {
            problems.push(format!(
                "{}: \"{phrase}\" is not in {file} {location}",
                req.id
            ));
        }
        checked += 1;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Only sources outside shared/ and the repository may go without a phrase.
    let reqs = requirements();
    for id in &without_phrase {
        let source = &reqs.iter().find(|r| &r.id == id).expect("listed").source;
        assert!(
            source.starts_with("RFC "),
            "{id}: source {source:?} has no \"phrase\""
        );
    }
    eprintln!(
        "{checked} phrases found; without a phrase (outside shared/): {}",
        without_phrase.join(", ")
    );
}

#[test]
fn a_phrase_in_the_wrong_section_is_not_found() {
    let text = "# T\n\n## 1. One\n\nalpha beta\n\n### 1.1. Sub\n\ngamma\n\n## 2. Two\n\ndelta\n";
    assert!(normalise(&section("x.md", text, "§1")).contains("gamma"));
    assert!(!normalise(&section("x.md", text, "§1")).contains("delta"));
    assert!(!normalise(&section("x.md", text, "§1.1")).contains("alpha"));
    assert!(normalise(&section("x.md", text, "§2, §1.1")).contains("gamma"));
    let yaml = "paths:\n  /a:\n    get:\n      operationId: one\n      description: first\n    post:\n      operationId: two\n      description: second\n";
    assert!(openapi_section(yaml, "GET /a (one)").contains("first"));
    assert!(!openapi_section(yaml, "GET /a (one)").contains("second"));
    assert_eq!(
        parse_source("polyproto-core.md §3.2.2: \"Recommended values are \"30\" to 60\""),
        Some((
            "polyproto-core.md",
            "§3.2.2",
            "Recommended values are \"30\" to 60"
        ))
    );
}
