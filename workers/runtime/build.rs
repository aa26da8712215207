//! `sqlx::migrate!` embeds `migrations/` at compile time, but cargo does not
//! know that the crate depends on that folder: without this, a new
//! migration reaches the binary only once something else in the crate
//! changes (an incremental build would ship without it).
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
