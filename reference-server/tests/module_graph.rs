//! The `use` graph between the modules of this crate and of `protocol` has no cycle (issue 11).
//!
//! Each source file is a module; an edge runs from a file to every module a path in it names:
//! `crate::…`, `super::…`, `self::…` and paths through its own child modules, in `use` items
//! (braces expanded) and inline. A parent and its children count like any other pair, and the
//! crate root too, so `use crate::AppState` in a route and `routes::…` in `lib.rs` would be a
//! cycle. Unit-test modules (after `#[cfg(test)]`) and comments are left out. A textual scan,
//! not a compiler: good enough for code that spells its paths plainly, as this code does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn name(module: &Module) -> String {
    if module.is_empty() {
        "crate".into()
    } else {
        module.join("::")
    }
}

/// Every `.rs` file under `src` but the binary's `main.rs`, by module path.
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || path == src.join("main.rs") {
                continue;
            }
            let relative = path
                .strip_prefix(src)
                .expect("under src")
                .with_extension("");
            let mut module: Module = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(module.last().map(String::as_str), Some("lib" | "mod")) {
                module.pop();
            }
            found.insert(module, path);
        }
    }
    found
}

/// The code of a file without unit tests and comments.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read source");
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `a::{b, c::{d, e}}` -> `a::b`, `a::c::d`, `a::c::e`.
fn expand(path: &str) -> Vec<String> {
    let Some(open) = path.find('{') else {
        return vec![path.to_owned()];
    };
    let close = path.rfind('}').unwrap_or(path.len());
    let (prefix, inner) = (&path[..open], &path[open + 1..close]);
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(&format!("{prefix}{p}")))
        .collect()
}

/// The paths of `use` items (braces expanded) and every `a::b` path outside them.
fn paths(code: &str) -> Vec<String> {
    let text = code.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut found = Vec::new();
    let mut outside = String::new();
    let mut i = 0;
    while let Some(offset) = text[i..].find("use ") {
        let at = i + offset;
        let word_start = text[..at]
            .chars()
            .last()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if !word_start {
            outside.push_str(&text[i..at + 4]);
            i = at + 4;
            continue;
        }
        let end = text[at..].find(';').map_or(text.len(), |e| at + e);
        found.extend(expand(&use_path(&text[at + 4..end])));
        outside.push_str(&text[i..at]);
        i = end;
    }
    outside.push_str(&text[i..]);
    found.extend(inline_paths(&outside));
    found
}

/// A `use` item without spaces and renames: `a::{b as c, d}` -> `a::{b,d}`.
fn use_path(item: &str) -> String {
    let mut kept = String::new();
    let mut words = item.split(' ');
    while let Some(word) = words.next() {
        if word == "as" {
            // Drop the new name, keep what follows it (`}` or `,`).
            let renamed = words.next().unwrap_or_default();
            kept.push_str(renamed.trim_start_matches(|c: char| c.is_alphanumeric() || c == '_'));
        } else {
            kept.push_str(word);
        }
    }
    kept
}

/// Identifier runs joined by `::`.
fn inline_paths(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts = ident(chars[i]) && (i == 0 || !(ident(chars[i - 1]) || chars[i - 1] == ':'));
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i;
        loop {
            while j < chars.len() && ident(chars[j]) {
                j += 1;
            }
            if chars.get(j) == Some(&':')
                && chars.get(j + 1) == Some(&':')
                && chars.get(j + 2).is_some_and(|c| ident(*c))
            {
                j += 2;
            } else {
                break;
            }
        }
        let path: String = chars[i..j].iter().collect();
        if path.contains("::") {
            found.push(path);
        }
        i = j;
    }
    found
}

/// Module-to-module edges of one crate.
fn edges(mods: &BTreeMap<Module, PathBuf>) -> BTreeSet<(Module, Module)> {
    let mut edges = BTreeSet::new();
    for (module, path) in mods {
        let children: BTreeSet<&str> = mods
            .keys()
            .filter(|k| k.len() == module.len() + 1 && k.starts_with(module))
            .map(|k| k[module.len()].as_str())
            .collect();
        for path in paths(&code(path)) {
            let mut parts: Vec<&str> = path.split("::").collect();
            let mut base: Module = match parts[0] {
                "crate" => {
                    parts.remove(0);
                    Vec::new()
                }
                "super" | "self" => {
                    let mut base = module.clone();
                    while let Some(&first) =
                        parts.first().filter(|p| **p == "super" || **p == "self")
                    {
                        if first == "super" {
                            base.pop();
                        }
                        parts.remove(0);
                    }
                    base
                }
                child if children.contains(child) => module.clone(),
                _ => continue,
            };
            base.extend(parts.iter().map(|p| p.to_string()));
            // The longest prefix that is a module is the target.
            while !mods.contains_key(&base) {
                base.pop();
            }
            if &base != module {
                edges.insert((module.clone(), base));
            }
        }
    }
    edges
}

/// A cycle through `start`, if there is one.
fn cycle_through(start: &Module, edges: &BTreeSet<(Module, Module)>) -> Option<Vec<Module>> {
    let mut stack = vec![vec![start.clone()]];
    let mut seen = BTreeSet::new();
    while let Some(route) = stack.pop() {
        let last = route.last().expect("non-empty").clone();
        for (_, next) in edges.iter().filter(|(from, _)| *from == last) {
            if next == start {
                let mut cycle = route.clone();
                cycle.push(next.clone());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = route.clone();
                longer.push(next.clone());
                stack.push(longer);
            }
        }
    }
    None
}

fn cycles(src: &Path) -> (usize, Vec<String>) {
    let mods = modules(src);
    let edges = edges(&mods);
    let found = mods
        .keys()
        .filter_map(|m| cycle_through(m, &edges))
        .map(|cycle| cycle.iter().map(name).collect::<Vec<_>>().join(" -> "))
        .collect();
    (edges.len(), found)
}

#[test]
fn the_module_graphs_have_no_cycle() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for src in [here.join("src"), here.join("../protocol/src")] {
        let (edges, found) = cycles(&src);
        assert!(
            edges > 0 || src.ends_with("protocol/src"),
            "no edges read in {src:?}"
        );
        assert!(
            found.is_empty(),
            "import cycles in {src:?}:\n{}",
            found.join("\n")
        );
    }
}

#[test]
fn the_scan_sees_a_cycle() {
    let dir = std::env::temp_dir().join(format!("p2mls-module-graph-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("routes")).expect("dir");
    std::fs::write(
        dir.join("lib.rs"),
        "pub mod routes;\npub struct AppState;\nfn app() { routes::a::router(); }\n",
    )
    .expect("write");
    std::fs::write(dir.join("routes/mod.rs"), "pub mod a;\npub mod b;\n").expect("write");
    std::fs::write(
        dir.join("routes/a.rs"),
        "use super::b::{x, y as z};\npub fn router() {}\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("routes/b.rs"),
        "use crate::{routes::a::router, AppState};\n",
    )
    .expect("write");
    let (_, found) = cycles(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        found.iter().any(|c| c.contains("routes::a -> routes::b")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|c| c.starts_with("crate -> ")),
        "{found:?}"
    );
}
