//! How the code is built, checked where a reviewer would otherwise have to
//! remember it (docs/architecture.md).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// No handler begins, commits or rolls back a transaction, or reaches the
/// database other than through its request context: the runtime begins the
/// request's transaction (`ctx.tx()`), commits it on success and rolls it
/// back on a coded error, so an operation's change, its events and its
/// stored reply always share one commit. What must be kept even when the
/// request fails goes through `ctx.apart()` or `ctx.autocommit()`.
#[test]
fn no_handler_opens_or_commits_a_transaction() {
    let workers = Path::new(env!("CARGO_MANIFEST_DIR")).join("../workers");
    // What only the runtime may name.
    let forbidden = [
        ".begin(",
        ".commit(",
        "::commit(",
        ".rollback(",
        "enter_tenant",
        "PgPool",
        "sqlx::Transaction",
        "sqlx::Pool",
        ".db()",
        "olympus_runtime::db",
        "olympus_runtime::Db",
        "BEGIN",
        "COMMIT",
    ];
    // Modules of a worker that are no handler, and why they may.
    let not_handlers = [(
        "auth/src/keys.rs",
        "the signing keys: statements on the owner pool (the request role may not read the \
         table) at start-up and for `olympus keys`, and the signer's read of the active key \
         by id; never a tenant's data, never in a request's transaction",
    )];
    let mut found = Vec::new();
    for worker in ["auth", "tenant", "commerce"] {
        let mut files = Vec::new();
        rust_files(&workers.join(worker).join("src"), &mut files);
        assert!(files.len() > 3, "no sources found for {worker}");
        files.retain(|file| !not_handlers.iter().any(|(path, _)| file.ends_with(path)));
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for (number, line) in text.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for pattern in forbidden.iter().filter(|p| line.contains(**p)) {
                    found.push(format!(
                        "{}:{}: {pattern}: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "handlers that manage a transaction themselves:\n{}",
        found.join("\n")
    );
}

/// The string literals handed to sqlx's `query*` functions in `text`
/// (turbofish or not), and the housekeeping's (`Prune`'s `statement`):
/// every statement written out whole in the source;
/// and those built by `format!` from a literal whose every placeholder is
/// one of `constants` (`{PRODUCT_SELECT}`), written out with them. (Other
/// statements built with `format!` are not found; they are few, and the
/// suite runs each.)
fn static_statements(text: &str, constants: &HashMap<String, String>) -> Vec<String> {
    const CALLS: [&str; 6] = [
        "query",
        "query_as",
        "query_scalar",
        "query_as_with",
        "query_scalar_with",
        "query_with",
    ];
    let mut statements = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("query") {
        let before = &rest[..at];
        let call = &rest[at..];
        rest = &rest[at + "query".len()..];
        if !(before.ends_with("sqlx::") || before.ends_with('.') || before.ends_with(' ')) {
            continue;
        }
        let name = call
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(call.len());
        if !CALLS.contains(&&call[..name]) {
            continue;
        }
        let mut arguments = &call[name..];
        if let Some(types) = arguments.strip_prefix("::<") {
            let Some(end) = types.find(">(") else {
                continue;
            };
            arguments = &types[end + 1..];
        }
        let Some(arguments) = arguments.strip_prefix('(') else {
            continue;
        };
        let literal = arguments.trim_start();
        if let Some(format) = literal.strip_prefix("&format!(") {
            let format = format.trim_start();
            let body = if let Some(body) = format.strip_prefix("r#\"") {
                body[..body.find("\"#").unwrap()].to_owned()
            } else if let Some(body) = format.strip_prefix('"') {
                unescape(body)
            } else {
                continue;
            };
            if let Some(statement) = with_constants(&body, constants) {
                statements.push(statement);
            }
            continue;
        }
        if let Some(body) = literal.strip_prefix("r#\"") {
            statements.push(body[..body.find("\"#").unwrap()].to_owned());
        } else if let Some(body) = literal.strip_prefix('"') {
            statements.push(unescape(body));
        }
    }
    // The relay's housekeeping: `Prune { statement: "DELETE ..." }`.
    for (at, _) in text.match_indices("statement: \"") {
        statements.push(unescape(&text[at + "statement: \"".len()..]));
    }
    statements
}

/// `format`, a `format!` string, with each `{NAME}` one of `constants`
/// and `{{`, `}}` as braces; `None` when a placeholder is anything else.
fn with_constants(format: &str, constants: &HashMap<String, String>) -> Option<String> {
    let mut text = String::new();
    let mut rest = format;
    while let Some(at) = rest.find(['{', '}']) {
        text.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("{{").or_else(|| tail.strip_prefix("}}")) {
            text.push(tail.as_bytes()[0] as char);
            rest = after;
            continue;
        }
        let end = tail.find('}')?;
        text.push_str(constants.get(&tail[1..end])?);
        rest = &tail[end + 1..];
    }
    text.push_str(rest);
    Some(text)
}

/// The `const NAME: &str = "...";` of `text` (plain or raw literals).
fn str_constants(text: &str, constants: &mut HashMap<String, String>) {
    for line_start in text.match_indices("const ").map(|(at, _)| at) {
        let declaration = &text[line_start + "const ".len()..];
        // The literal on the same line or the next (as rustfmt breaks a
        // long one).
        let Some((name, rest)) = declaration.split_once(": &str =") else {
            continue;
        };
        let rest = rest.trim_start();
        if !name.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
            continue;
        }
        let value = if let Some(body) = rest.strip_prefix("r#\"") {
            body[..body.find("\"#").unwrap()].to_owned()
        } else if let Some(body) = rest.strip_prefix('"') {
            unescape(body)
        } else {
            continue;
        };
        constants.insert(name.to_owned(), value);
    }
}

/// Every statement written out whole (see [`static_statements`]) in the
/// Rust sources under each of `dirs` (from the repository's root), with
/// its file; those built from the sources' string constants too.
pub(crate) fn statements_under(dirs: &[&str]) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in dirs {
        rust_files(&root.join(dir), &mut files);
    }
    files.sort();
    let texts: Vec<String> = files
        .iter()
        .map(|file| std::fs::read_to_string(file).unwrap())
        .collect();
    let mut constants = HashMap::new();
    for text in &texts {
        str_constants(text, &mut constants);
    }
    let mut statements = Vec::new();
    for (file, text) in files.iter().zip(&texts) {
        for statement in static_statements(text, &constants) {
            statements.push((
                file.strip_prefix(&root).unwrap().display().to_string(),
                statement,
            ));
        }
    }
    statements
}

/// A Rust string literal's text up to its closing quote.
fn unescape(body: &str) -> String {
    let mut text = String::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some('n') => text.push('\n'),
                Some('t') => text.push('\t'),
                Some('\n') => {
                    while chars.peek().is_some_and(|c| c.is_whitespace()) {
                        chars.next();
                    }
                }
                Some(other) => text.push(other),
                None => break,
            },
            c => text.push(c),
        }
    }
    text
}

/// Every statement written out in the workers and the runtime is prepared
/// against the migrated schema: a renamed column or table fails here at
/// once, not on the first request that runs the statement.
#[tokio::test]
async fn every_static_statement_prepares_against_the_migrated_schema() {
    use sqlx::Executor;
    let statements = statements_under(&["workers", "bench/src"]);
    assert!(
        statements.len() > 60,
        "only {} statements found",
        statements.len()
    );
    // Built from a constant whose literal rustfmt put on the next line.
    assert!(
        statements.iter().any(|(file, statement)| {
            file.ends_with("members.rs")
                && statement.starts_with("SELECT id, tenant_id, email, display_name")
        }),
        "members.list's page, with USER_COLUMNS"
    );
    olympus_tests::with_app_opts(olympus_tests::Options::without_workers(), async |t| {
        let mut conn = t.db.pool().acquire().await.unwrap();
        let mut failed = Vec::new();
        for (file, statement) in &statements {
            if let Err(err) = conn.prepare(statement.as_str()).await {
                failed.push(format!("{file}: {err}\n  {statement}"));
            }
        }
        assert!(
            failed.is_empty(),
            "statements that do not prepare:\n{}",
            failed.join("\n")
        );
    })
    .await;
}
