//! The one way a user comes to exist (signup's owner, `auth.register`, an
//! accepted invitation): the row, its first session, the `user.registered`
//! event and, unless the address is proven, the verification mail, in the
//! caller's tenant-scoped transaction.

use olympus_contracts::event::data;
use olympus_contracts::shapes::{Tokens, User};
use olympus_runtime::outbox::Event;
use olympus_runtime::{App, Error, Meta};
use sqlx::PgConnection;

use crate::users::{self, NewUser};
use crate::{sessions, verification};

/// Creates the member and opens their first session; returns them and its
/// tokens. A taken email is `conflict` on `email`.
pub async fn create(
    app: &App,
    conn: &mut PgConnection,
    meta: &Meta,
    new: NewUser<'_>,
) -> Result<(User, Tokens), Error> {
    let user = users::insert(conn, new).await?;
    let (tokens, _) = sessions::open(app, conn, &user, meta).await?;
    let events = app.events(meta).actor(user.id);
    events
        .emit(
            conn,
            Event::new(
                user.tenant_id,
                user.id,
                &data::UserRegistered { user: user.clone() },
            ),
        )
        .await?;
    if !user.email_verified {
        // A new member's first mail: never over the limit.
        verification::issue(conn, &events, &user, app.now()).await?;
    }
    Ok((user, tokens))
}

/// A human-readable name: trimmed, `min..=max` characters, one line.
pub fn parse_name(raw: &str, min: usize, max: usize) -> Result<String, Vec<String>> {
    let name = raw.trim();
    let length = name.chars().count();
    let mut problems = Vec::new();
    if length < min || length > max {
        problems.push(format!("must be {min} to {max} characters"));
    }
    if name.chars().any(char::is_control) {
        problems.push("must not contain control characters".to_owned());
    }
    if problems.is_empty() {
        Ok(name.to_owned())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(parse_name("  Acme Inc. ", 1, 100).unwrap(), "Acme Inc.");
        assert!(parse_name("   ", 1, 100).is_err());
        assert!(parse_name(&"x".repeat(101), 1, 100).is_err());
        assert!(parse_name("a\nb", 1, 100).is_err());
    }
}
