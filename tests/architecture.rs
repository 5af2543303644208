//! The house reads as the pipeline: no module imports a later stage, and no files of one module
//! import each other in a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use petgraph::algo::tarjan_scc;
use petgraph::graphmap::DiGraphMap;

/// Each top-level module's place in the pipeline: a module may import only modules of a lower
/// layer. Helpers shared by stages sit below all of them.
const LAYERS: &[(&str, u32)] = &[
    ("contract", 0),
    ("pii", 0),
    ("geo", 0),
    ("catalog", 0),
    ("memory", 0),
    ("pseudonym", 1),
    ("city", 1),
    ("source", 1),
    ("text", 2),
    ("warehouse", 2),
    ("ingest", 3),
    ("generate", 3),
    ("sql", 4),
    ("resolve", 5),
    ("link", 6),
    ("hotspot", 7),
    ("report", 8),
    ("eval", 9),
    ("figures", 10),
    ("schedule", 10),
    ("demo", 11),
    ("serve", 11),
    ("cli", 12),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `(module, file stem)` of a file under src (`link/load.rs` → `("link", "load")`).
fn place(src: &Path, file: &Path) -> (String, String) {
    let relative = file.strip_prefix(src).expect("under src").with_extension("");
    let parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    (parts[0].clone(), parts.get(1).cloned().unwrap_or_else(|| "mod".into()))
}

/// The names that follow `prefix` in code (comments and doc lines left out).
fn paths_after(code: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find(prefix) {
            let after = &rest[at + prefix.len()..];
            let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                out.push(name);
            }
            rest = after;
        }
    }
    out
}

fn sources() -> (PathBuf, Vec<(PathBuf, String)>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(files.len() > 40, "the source tree is where it should be: {} files", files.len());
    let read = files.into_iter().map(|f| (f.clone(), std::fs::read_to_string(&f).expect("readable"))).collect();
    (src, read)
}

#[test]
fn no_module_imports_a_later_stage() {
    let layers: BTreeMap<&str, u32> = LAYERS.iter().copied().collect();
    let (src, files) = sources();
    let mut wrong = BTreeSet::new();
    for (file, code) in &files {
        let (module, _) = place(&src, file);
        if module == "lib" || module == "main" {
            continue;
        }
        let own = *layers.get(module.as_str()).unwrap_or_else(|| panic!("{module} has no layer in LAYERS"));
        for target in paths_after(code, "crate::") {
            if target == module {
                continue;
            }
            let Some(&theirs) = layers.get(target.as_str()) else { continue };
            if theirs >= own {
                wrong.insert(format!("{} imports {target}", file.strip_prefix(&src).unwrap().display()));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the pipeline:\n{}", wrong.into_iter().collect::<Vec<_>>().join("\n"));
}

#[test]
fn no_files_of_a_module_import_each_other_in_a_circle() {
    let (src, files) = sources();
    let stems: BTreeSet<(String, String)> = files.iter().map(|(f, _)| place(&src, f)).collect();
    let mut graph: DiGraphMap<usize, ()> = DiGraphMap::new();
    let names: Vec<(String, String)> = stems.iter().cloned().collect();
    let index = |m: &str, s: &str| names.iter().position(|(a, b)| a == m && b == s);
    for (file, code) in &files {
        let (module, stem) = place(&src, file);
        let from = index(&module, &stem).expect("known");
        graph.add_node(from);
        // A submodule naming its parent's items (`super::Error`) is how Rust modules are built;
        // a circle among sibling files is a tangle.
        let mut targets: Vec<String> = paths_after(code, &format!("crate::{module}::"));
        if stem != "mod" {
            targets.extend(paths_after(code, "super::"));
        }
        for target in targets {
            if target == stem || target == "mod" {
                continue;
            }
            if let Some(to) = index(&module, &target).filter(|_| stem != "mod") {
                graph.add_edge(from, to, ());
            }
        }
    }
    let circles: Vec<String> = tarjan_scc(&graph)
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|c| c.iter().map(|&i| format!("{}/{}", names[i].0, names[i].1)).collect::<Vec<_>>().join(" ↔ "))
        .collect();
    assert!(circles.is_empty(), "files importing each other in a circle:\n{}", circles.join("\n"));
}
