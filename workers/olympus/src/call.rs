//! `olympus call`: one request from the command line, JSON in and out, so
//! an operator needs neither the `nats` CLI nor a MessagePack library.
//!
//! `olympus call auth.login '{"tenant": ..., "email": ..., "password": ...}'`
//! keeps the access token of a successful login, signup or refresh in a
//! file only its owner can read (`OLYMPUS_TOKEN_FILE`, default
//! `~/.config/olympus/token`), and later calls of operations that need a
//! token send it. The reply is printed as JSON; an error reply is printed
//! too, and the command exits with status 1.

use anyhow::{bail, Context};
use async_nats::HeaderMap;
use clap::Args;
use olympus_contracts::operation::{self, Access};
use olympus_contracts::{headers, ContentType, Subjects};
use serde_json::Value;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct CallArgs {
    /// The operation, as `{service}.{operation}` (e.g. `auth.login`,
    /// `commerce.orders.create`).
    operation: String,

    /// The request as JSON; `-` reads it from standard input; `{}` when
    /// absent.
    body: Option<String>,

    /// An `Idempotency-Key` for operations that take one.
    #[arg(long)]
    idempotency_key: Option<String>,

    /// Print only this field of a successful reply (a dotted path such as
    /// `product.id` or `items.0.id`; a string without quotes), for scripts.
    #[arg(long, value_name = "PATH")]
    field: Option<String>,

    /// Send no token, even if one is kept.
    #[arg(long)]
    no_token: bool,

    /// Where the token of the last login is kept.
    #[arg(long, env = "OLYMPUS_TOKEN_FILE")]
    token_file: Option<PathBuf>,

    #[command(flatten)]
    mesh: olympus_runtime::config::Mesh,

    /// How long to wait for the reply, in seconds.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

fn token_file(args: &CallArgs) -> anyhow::Result<PathBuf> {
    if let Some(path) = &args.token_file {
        return Ok(path.clone());
    }
    let home = std::env::var_os("HOME").context("HOME is not set: pass --token-file")?;
    Ok(PathBuf::from(home).join(".config/olympus/token"))
}

/// The operation `name` (`auth.login`, or as a subject `auth.v1.login`),
/// or an error that says what was probably meant.
fn find_operation(name: &str) -> anyhow::Result<&'static operation::Operation> {
    let typed = name.replacen(".v1.", ".", 1);
    let full = |op: &operation::Operation| format!("{}.{}", op.service.as_str(), op.name);
    if let Some(op) = operation::ALL.iter().find(|op| full(op) == typed) {
        return Ok(op);
    }
    let known: Vec<String> = operation::ALL.iter().map(full).collect();
    match crate::hints::closest(&typed, known.iter().map(String::as_str)) {
        Some(meant) => bail!("no operation {name:?}; did you mean {meant}?"),
        None => bail!(
            "no operation {name:?}; the operations are: {}",
            known.join(", ")
        ),
    }
}

/// Runs the call; `Ok(false)` when the reply was an error.
pub async fn run(args: CallArgs) -> anyhow::Result<bool> {
    let op = find_operation(&args.operation)?;
    let body = match args.body.as_deref() {
        None => "{}".to_owned(),
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the request from standard input")?;
            text
        }
        Some(text) => text.to_owned(),
    };
    let request: Value = serde_json::from_str(&body).context("the request is not JSON")?;
    let path = token_file(&args)?;
    let mut request_headers = HeaderMap::new();
    request_headers.insert(headers::CONTENT_TYPE, ContentType::Json.as_str());
    if op.access() == Access::Bearer && !args.no_token {
        let token = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} needs a token and none is kept in {}: call auth.login first",
                args.operation,
                path.display()
            )
        })?;
        request_headers.insert(headers::AUTHORIZATION, format!("Bearer {}", token.trim()));
    }
    if let Some(key) = &args.idempotency_key {
        request_headers.insert(headers::IDEMPOTENCY_KEY, key.as_str());
    }
    let subjects = Subjects::new(&args.mesh.subject_prefix)?;
    let (nats, refusals) = crate::hints::connect(
        &args.mesh.nats_url,
        "olympus-call",
        Some(Duration::from_secs(args.timeout)),
    )
    .await?;
    let subject = subjects.endpoint(op.service, op.name);
    let reply = nats
        .request_with_headers(
            subject.clone(),
            request_headers,
            serde_json::to_vec(&request)?.into(),
        )
        .await
        .map_err(|err| crate::hints::no_reply(&err, &subject, subjects.prefix(), &refusals))?;
    let value: Value = serde_json::from_slice(&reply.payload).context("the reply is not JSON")?;
    // Kept before printing, so that a reader that stops early (`| head`)
    // does not lose it.
    let token = value["tokens"]["access_token"].as_str();
    if let Some(token) = token {
        keep(&path, token)?;
    }
    let failed = reply
        .headers
        .as_ref()
        .and_then(|h| h.get(headers::SERVICE_ERROR_CODE))
        .map(|v| v.as_str().to_owned());
    match (&args.field, &failed) {
        (Some(path), None) => print_reply(&field(&value, path)?)?,
        _ => print_reply(&serde_json::to_string_pretty(&value)?)?,
    }
    if let Some(status) = failed {
        eprintln!(
            "olympus call: {} {}: {}",
            status,
            value["code"].as_str().unwrap_or(""),
            value["message"].as_str().unwrap_or("")
        );
        return Ok(false);
    }
    if token.is_some() {
        eprintln!("olympus call: access token kept in {}", path.display());
    }
    Ok(true)
}

/// The field at `path` (`product.id`, `items.0.id`) of `value`: a string
/// as it is, anything else as JSON.
fn field(value: &Value, path: &str) -> anyhow::Result<String> {
    let mut at = value;
    for step in path.split('.') {
        at = match at {
            Value::Array(items) => step.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => at.get(step),
        }
        .with_context(|| format!("the reply has no field {path:?}"))?;
    }
    Ok(match at {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    })
}

/// Writes the reply to stdout; a reader that went away (`| head`) is not
/// an error.
fn print_reply(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => Ok(written?),
    }
}

/// Writes the token where only its owner can read it.
fn keep(path: &PathBuf, token: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(token.as_bytes())?;
    Ok(())
}
