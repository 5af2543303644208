//! Embeds the named queries of `queries/*.sql` in the binary, so `hotline query` needs no files at run time.

use std::fmt::Write;
use std::path::PathBuf;

fn main() {
    let dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("queries");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "sql"));
    files.sort();
    let mut code = String::from(
        "/// Every `queries/*.sql` file: (file stem, text).\npub const NAMED_QUERY_FILES: &[(&str, &str)] = &[\n",
    );
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let stem = file.file_stem().and_then(|s| s.to_str()).expect("query file names are UTF-8");
        writeln!(code, "    ({stem:?}, include_str!({:?})),", file.display().to_string()).expect("writing to a String");
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("named_queries.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");
}
