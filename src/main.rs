//! The `hotline` binary: everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    hotline::cli::main()
}
