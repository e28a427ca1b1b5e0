//! The `tenantry` binary: parse the command line and configuration, start tracing, run.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    tenantry::cli::main()
}
