//! The Python of the typed client's virtual environment: the package of
//! `clients/python` installed as a user installs it, with mypy and the
//! examples' other imports (`tools/python-venv` makes it, afresh when the
//! package changed; test processes asking at once wait for one another).

use std::sync::OnceLock;

/// The virtual environment's `python`.
pub fn client_python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tools/python-venv");
        let output = std::process::Command::new(script)
            .output()
            .expect("running tools/python-venv");
        assert!(
            output.status.success(),
            "tools/python-venv failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    })
}
