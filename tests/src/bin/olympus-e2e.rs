//! The `olympus` command, for end-to-end tests that need real processes.

fn main() -> std::process::ExitCode {
    olympus::main()
}
