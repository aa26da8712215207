//! The `olympus` binary; everything is in the library.

fn main() -> std::process::ExitCode {
    olympus::main()
}
