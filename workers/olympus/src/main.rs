//! The `olympus` binary; everything is in the library.

/// mimalloc instead of glibc's malloc: under `auth.me` load, glibc's
/// allocator took about a sixth of the server's CPU (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    olympus::main()
}
