//! No import circle in the workspace: within each crate, the modules that one module names
//! (`crate::a::b`, `super::c`) never lead back to it, whether modules are taken file by file or
//! folded into their top-level module. A circle means two modules cannot be read (or moved into
//! their own crate) apart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`checks::context`) -> source, for every `.rs` file under `src`.
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source directory") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(src).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    parts.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    parts.pop();
                }
                let text = std::fs::read_to_string(&path).unwrap();
                // Test modules may reach anywhere.
                let text = text.split("#[cfg(test)]").next().unwrap_or("").to_owned();
                out.insert(parts.join("::"), text);
            }
        }
    }
    out
}

/// The longest known module a path names, from module `from`.
fn resolve(known: &BTreeMap<String, String>, from: &str, path: &str) -> Option<String> {
    let mut segments: Vec<&str> = path.split("::").collect();
    let mut base: Vec<&str> = if from.is_empty() {
        Vec::new()
    } else {
        from.split("::").collect()
    };
    match segments.first() {
        Some(&"crate") => base.clear(),
        Some(&"super") => {
            base.pop();
        }
        Some(&"self") => {}
        _ => return None,
    }
    segments.remove(0);
    while segments.first() == Some(&"super") {
        base.pop();
        segments.remove(0);
    }
    (0..=segments.len()).rev().find_map(|n| {
        let candidate: Vec<&str> = base.iter().chain(&segments[..n]).copied().collect();
        let candidate = candidate.join("::");
        known.contains_key(&candidate).then_some(candidate)
    })
}

/// Paths a source names: `crate::a::b`, and each item of `crate::a::{b, c::d}`.
fn named_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let rest: String = bytes[i..bytes.len().min(i + 6)].iter().collect();
        let starts = ["crate:", "super:", "self::"]
            .iter()
            .any(|p| rest.starts_with(p))
            && (i == 0 || !(bytes[i - 1].is_alphanumeric() || bytes[i - 1] == '_'));
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < bytes.len() && (bytes[j].is_alphanumeric() || bytes[j] == '_' || bytes[j] == ':')
        {
            j += 1;
        }
        let head: String = bytes[i..j].iter().collect();
        let head = head.trim_end_matches(':').to_owned();
        if j < bytes.len() && bytes[j] == '{' {
            let close = bytes[j..]
                .iter()
                .position(|c| *c == '}')
                .map_or(bytes.len(), |p| j + p);
            let group: String = bytes[j + 1..close].iter().collect();
            for item in group.split(',') {
                let item = item
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_matches('{');
                if !item.is_empty() {
                    out.push(format!("{head}::{item}"));
                }
            }
        }
        out.push(head);
        i = j.max(i + 1);
    }
    out
}

/// Edges between distinct modules that are not ancestor and descendant of each other.
fn edges(known: &BTreeMap<String, String>, fold: bool) -> BTreeSet<(String, String)> {
    let top = |m: &str| m.split("::").next().unwrap_or("").to_owned();
    // A module and its ancestors (the crate root is everyone's) are one unit here: re-exports
    // and `super::` between them are how Rust modules are built, not a circle between concepts.
    let related = |a: &str, b: &str| {
        a == b
            || a.is_empty()
            || b.is_empty()
            || a.starts_with(&format!("{b}::"))
            || b.starts_with(&format!("{a}::"))
    };
    let mut out = BTreeSet::new();
    for (module, text) in known {
        for path in named_paths(text) {
            let Some(target) = resolve(known, module, &path) else {
                continue;
            };
            let (a, b) = if fold {
                (top(module), top(&target))
            } else {
                (module.clone(), target)
            };
            if !related(&a, &b) {
                out.insert((a, b));
            }
        }
    }
    out
}

/// A circle through `start`, if there is one.
fn circle(edges: &BTreeSet<(String, String)>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_owned(), vec![start.to_owned()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for (_, next) in edges.iter().filter(|(a, _)| *a == node) {
            if next == start {
                return Some(path.clone());
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn no_crate_of_the_workspace_has_an_import_circle() {
    let crates = [
        "protocol",
        "openapi",
        "lint",
        "report",
        "harness",
        "reference-server",
        "vectors",
    ];
    let mut circles = Vec::new();
    for krate in crates {
        let src = workspace().join(krate).join("src");
        if !src.is_dir() {
            continue;
        }
        let known = modules(&src);
        assert!(
            known.len() > 1 || krate == "protocol",
            "{krate}: no modules found"
        );
        for fold in [false, true] {
            let edges = edges(&known, fold);
            let nodes: BTreeSet<&String> = edges.iter().map(|(a, _)| a).collect();
            for node in nodes {
                if let Some(path) = circle(&edges, node) {
                    circles.push(format!("{krate}: {} -> {node}", path.join(" -> ")));
                    break;
                }
            }
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_scanner_sees_a_circle_it_is_shown() {
    let known: BTreeMap<String, String> = [
        ("a".to_owned(), "use crate::b::{x, y};".to_owned()),
        ("b".to_owned(), "fn f() { super::a::g() }".to_owned()),
        ("c".to_owned(), "use crate::a;".to_owned()),
    ]
    .into();
    let edges = edges(&known, false);
    assert!(edges.contains(&("a".into(), "b".into())));
    assert!(edges.contains(&("b".into(), "a".into())));
    assert!(circle(&edges, "a").is_some());
    assert!(circle(&edges, "c").is_none());
}
