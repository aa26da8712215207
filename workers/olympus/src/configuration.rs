//! `docs/configuration.md`, generated from the command line's own
//! definitions, so that it lists every setting with its environment
//! variable, default and meaning exactly as `--help` does. A test compares
//! the committed file with this output; refresh it with
//! `UPDATE_DOCS=1 cargo test -p olympus configuration`.

use clap::CommandFactory;
use std::fmt::Write as _;

use crate::Cli;

/// The document.
pub fn document() -> String {
    let cli = Cli::command();
    let mut out = String::from(
        "# Configuration\n\n\
         Every setting of `olympus` is a flag and an environment variable (the flag wins). This \
         page is generated from the command line's definitions (`workers/olympus/src/\
         configuration.rs`) and checked by a test, so it is what `olympus <command> --help` \
         says. Secrets (URLs with passwords, signing keys) are read from the environment and \
         never printed.\n",
    );
    // A setting several commands take (the database, NATS, logging) is
    // listed under the first that has it; the others name it.
    let mut seen: Vec<(String, String)> = Vec::new();
    for (path, command) in commands(&cli, "olympus") {
        let mut rows = Vec::new();
        let mut shared = Vec::new();
        for arg in command
            .get_arguments()
            .filter(|a| !a.is_hide_set() && a.get_id() != "help" && a.get_id() != "version")
            .filter(|a| a.get_long().is_some() || a.get_env().is_some())
        {
            let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
            let key = format!("{}{env:?}", arg.get_id());
            match seen.iter().find(|(k, _)| *k == key) {
                Some((_, first)) => {
                    if !shared.contains(first) {
                        shared.push(first.clone());
                    }
                }
                None => {
                    seen.push((key, path.clone()));
                    rows.push(row(arg, env));
                }
            }
        }
        if rows.is_empty() && shared.is_empty() {
            continue;
        }
        let about = command
            .get_about()
            .map(|a| first_sentence(&a.to_string()))
            .unwrap_or_default();
        let _ = write!(out, "\n## `{path}`\n\n{about}\n");
        if !shared.is_empty() {
            let shared: Vec<String> = shared.iter().map(|c| format!("`{c}`")).collect();
            let _ = write!(
                out,
                "\nIt also takes the settings listed for {}.\n",
                shared.join(", ")
            );
        }
        if !rows.is_empty() {
            out.push_str("\n| flag | variable | default | meaning |\n|---|---|---|---|\n");
            for row in rows {
                out.push_str(&row);
            }
        }
    }
    out
}

/// Every command with arguments, depth first, with its full name.
fn commands<'a>(command: &'a clap::Command, path: &str) -> Vec<(String, &'a clap::Command)> {
    let mut all = vec![(path.to_owned(), command)];
    for sub in command.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        all.extend(commands(sub, &format!("{path} {}", sub.get_name())));
    }
    all
}

fn row(arg: &clap::Arg, env: Option<String>) -> String {
    let flag = match (arg.get_long(), arg.get_short()) {
        (Some(long), _) => format!("`--{long}`"),
        (None, Some(short)) => format!("`-{short}`"),
        (None, None) => String::new(),
    };
    let env = env.map_or_else(String::new, |e| format!("`{e}`"));
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    let default = if defaults.is_empty() {
        String::new()
    } else {
        format!("`{}`", defaults.join(","))
    };
    let help = arg
        .get_long_help()
        .or(arg.get_help())
        .map(|h| h.to_string())
        .unwrap_or_default();
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| format!("`{}`", v.get_name()))
        .collect();
    let mut meaning = help.split_whitespace().collect::<Vec<_>>().join(" ");
    if !values.is_empty() && arg.get_action().takes_values() {
        if !meaning.is_empty() && !meaning.ends_with('.') {
            meaning.push('.');
        }
        let _ = write!(meaning, " One of {}.", values.join(", "));
    }
    format!(
        "| {flag} | {env} | {default} | {} |\n",
        meaning.replace('|', "\\|")
    )
}

fn first_sentence(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.find(". ") {
        Some(end) => text[..=end].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_configuration_page_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
        let generated = super::document();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/configuration.md is stale; run UPDATE_DOCS=1 cargo test -p olympus configuration \
             and commit the diff"
        );
    }

    #[test]
    fn every_environment_variable_of_serve_is_listed() {
        let document = super::document();
        for variable in [
            "DATABASE_URL",
            "NATS_URL",
            "OLYMPUS_KEY_ENCRYPTION_KEY",
            "OLYMPUS_LEGACY_HS256_KEYS",
            "OLYMPUS_MIGRATE",
            "OLYMPUS_REPLY_PREFIXES",
            "OLYMPUS_LOG",
        ] {
            assert!(document.contains(&format!("`{variable}`")), "{variable}");
        }
    }
}
