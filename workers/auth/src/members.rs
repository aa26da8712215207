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
