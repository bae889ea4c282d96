//! The runtime's layers, checked: every file of `pulse-runtime/src` is in a row of
//! docs/architecture.md's layer table, and no file names a module of a layer above its
//! own (through `crate::…`, `super::…` or the crate root's re-exports). The table is the
//! one fact: move a file and the doc must say where it went.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A file's path under `src/` (`registry/join.rs`) and its text.
type Source = (String, String);

#[test]
fn no_module_imports_from_a_layer_above_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let doc = std::fs::read_to_string(root.join("docs/architecture.md")).expect("docs/architecture.md");
    let layers = layer_table(&doc);
    assert!(layers.len() >= 6, "the layer table of docs/architecture.md was not found: {layers:?}");
    let src = root.join("pulse-runtime/src");
    let mut files = Vec::new();
    collect(&src, &src, &mut files);
    let problems = check(&layers, &files);
    assert!(problems.is_empty(), "docs/architecture.md's layers are not the code's:\n{}", problems.join("\n"));
}

#[test]
fn the_check_finds_an_upward_import_a_file_in_no_layer_and_a_re_export_used_to_hide_one() {
    let layers = layer_table(
        "| layer | files | holds |\n|---|---|---|\n\
         | 1. protocol | `protocol/`, `id.rs` | … |\n\
         | 3. sessions | `session/` | … |\n\
         | 6. server | `server/` | … |\n",
    );
    let files: Vec<Source> = vec![
        (
            "lib.rs".into(),
            "pub use server::{Server, serve};\nmod protocol;\npub mod prelude {\n    pub use crate::{Server, id};\n}"
                .into(),
        ),
        ("protocol/mod.rs".into(), "use crate::id::Id;\nuse crate::{id, session::Session};".into()),
        ("id.rs".into(), "fn f() { crate::Server::new(); }".into()),
        ("session/mod.rs".into(), "use super::protocol::Frame;\n// use crate::server::X;\n".into()),
        ("session/handover.rs".into(), "use super::super::server::Socket;".into()),
        ("server/mod.rs".into(), "use crate::session::Session;\n#[cfg(test)]\nmod tests { use crate::x::Y; }".into()),
        ("extra.rs".into(), String::new()),
    ];
    let problems = check(&layers, &files);
    let expected = [
        "extra.rs is in no layer of docs/architecture.md's table",
        "id.rs (layer 1) names crate::Server::new, in server/mod.rs (layer 6)",
        "protocol/mod.rs (layer 1) names crate::session::Session, in session/mod.rs (layer 3)",
        "session/handover.rs (layer 3) names super::super::server::Socket, in server/mod.rs (layer 6)",
    ];
    assert_eq!(problems, expected);
}

/// Path (a folder ending in `/`, or a file) → layer, from the rows `| N. name | `a`, `b/` | … |`
/// of the table under "The runtime in layers".
fn layer_table(doc: &str) -> Vec<(String, u32)> {
    let mut layers = Vec::new();
    for line in doc.lines() {
        let Some(row) = line.strip_prefix("| ") else { continue };
        let Some((number, rest)) = row.split_once(". ") else { continue };
        let Ok(layer) = number.parse::<u32>() else { continue };
        let Some(files) = rest.split(" | ").nth(1) else { continue };
        for quoted in files.split('`').skip(1).step_by(2) {
            if quoted.ends_with('/') || quoted.ends_with(".rs") {
                layers.push((quoted.to_owned(), layer));
            }
        }
    }
    layers
}

fn collect(dir: &Path, src: &Path, files: &mut Vec<Source>) {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).expect("a source folder").map(|e| e.expect("an entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, src, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(src).expect("under src").to_string_lossy().replace('\\', "/");
            files.push((relative, std::fs::read_to_string(&path).expect("a source file")));
        }
    }
}

/// The layer of `file`: its longest matching row.
fn layer_of(layers: &[(String, u32)], file: &str) -> Option<u32> {
    layers
        .iter()
        .filter(|(path, _)| if path.ends_with('/') { file.starts_with(path.as_str()) } else { file == path })
        .max_by_key(|(path, _)| path.len())
        .map(|(_, layer)| *layer)
}

fn check(layers: &[(String, u32)], files: &[Source]) -> Vec<String> {
    let exists: std::collections::HashSet<&str> = files.iter().map(|(path, _)| path.as_str()).collect();
    let lib = files.iter().find(|(path, _)| path == "lib.rs").map_or("", |(_, text)| text);
    let re_exports = re_exports(lib);
    let mut problems = Vec::new();
    for (file, text) in files {
        if file == "lib.rs" {
            continue;
        }
        let Some(layer) = layer_of(layers, file) else {
            problems.push(format!("{file} is in no layer of docs/architecture.md's table"));
            continue;
        };
        for path in paths(code_of(text)) {
            let Some(segments) = absolute(file, &path, &re_exports) else { continue };
            let target = module_file(&segments, &exists);
            if let Some(target_layer) = layer_of(layers, &target).filter(|target_layer| *target_layer > layer) {
                problems.push(format!("{file} (layer {layer}) names {path}, in {target} (layer {target_layer})"));
            }
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

/// The code of a file: without its test module and comments.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
    text.lines().map(|line| line.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

/// Every `crate::…` and `super::…` path in `code`, groups (`crate::{a, b::c}`) spread.
fn paths(code: String) -> Vec<String> {
    let mut found = Vec::new();
    for start in ["crate::", "super::"] {
        let mut rest = code.as_str();
        while let Some(at) = rest.find(start) {
            let before = rest[..at].chars().next_back();
            rest = &rest[at..];
            let path_len = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
            let path = rest[..path_len].trim_end_matches(':');
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                rest = &rest[path_len..];
                continue;
            }
            if rest[path_len..].starts_with('{') && path_len > 0 && rest[..path_len].ends_with("::") {
                let group = &rest[path_len + 1..];
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let item = item.trim().split(" as ").next().unwrap_or_default().trim();
                    if !item.is_empty() && !item.starts_with('{') && item != "self" {
                        found.push(format!("{path}::{item}"));
                    } else if item == "self" {
                        found.push(path.to_owned());
                    }
                }
            } else if path != "super" && path != "crate" {
                found.push(path.to_owned());
            }
            rest = &rest[path_len..];
        }
    }
    found
}

/// Name → module segments, from `pub use a::b::{X, Y};` and `pub use a::X;` in lib.rs.
fn re_exports(lib: &str) -> HashMap<String, Vec<String>> {
    let mut map = HashMap::new();
    let flat = lib.replace('\n', " ");
    for statement in flat.split(';') {
        let Some(used) = statement.trim().strip_prefix("pub use ") else { continue };
        if used.starts_with("crate::") {
            continue; // the prelude's: names re-exported again, not where they live
        }
        let (module, names) = match used.split_once("::{") {
            Some((module, names)) => (module, names.trim_end_matches('}').to_owned()),
            None => match used.rsplit_once("::") {
                Some((module, name)) => (module, name.to_owned()),
                None => continue,
            },
        };
        let segments: Vec<String> = module.trim().split("::").map(str::to_owned).collect();
        for name in names.split(',') {
            let name = name.trim().split(" as ").last().unwrap_or_default().trim();
            if !name.is_empty() {
                map.entry(name.to_owned()).or_insert_with(|| segments.clone());
            }
        }
    }
    map
}

/// The segments of `path` from the crate root, as named in `file`.
fn absolute(file: &str, path: &str, re_exports: &HashMap<String, Vec<String>>) -> Option<Vec<String>> {
    let segments: Vec<&str> = path.split("::").collect();
    match *segments.first()? {
        "crate" => {
            let first = segments.get(1)?;
            let mut out = re_exports.get(*first).cloned().unwrap_or_else(|| vec![(*first).to_owned()]);
            out.extend(segments[2..].iter().map(|s| (*s).to_owned()));
            Some(out)
        }
        "super" => {
            // The module the file is: `registry/join.rs` is registry::join, `registry/mod.rs` registry.
            let mut module: Vec<String> = file.trim_end_matches(".rs").split('/').map(str::to_owned).collect();
            if module.last().is_some_and(|last| last == "mod") {
                module.pop();
            }
            let mut rest = &segments[..];
            while rest.first() == Some(&"super") {
                module.pop()?;
                rest = &rest[1..];
            }
            module.extend(rest.iter().map(|s| (*s).to_owned()));
            Some(module)
        }
        _ => None,
    }
}

/// The file of the deepest module `segments` names (`registry::join::X` → `registry/join.rs`).
fn module_file(segments: &[String], exists: &std::collections::HashSet<&str>) -> String {
    for len in (1..=segments.len()).rev() {
        let base = segments[..len].join("/");
        for candidate in [format!("{base}.rs"), format!("{base}/mod.rs")] {
            if exists.contains(candidate.as_str()) {
                return candidate;
            }
        }
    }
    "lib.rs".to_owned()
}
