//! The one way a user comes to exist (signup's owner, `auth.register`, an
//! accepted invitation): the row, its first session, the `user.registered`
//! event and, unless the address is proven, the verification mail, in the
//! request's transaction in the user's tenant.

use olympus_contracts::event::data;
use olympus_contracts::shapes::{Tokens, User};
use olympus_runtime::{Ctx, Error, Tx};

use crate::users::{self, NewUser};
use crate::{sessions, verification};

/// Creates the member and opens their first session; returns them and its
/// tokens. A taken email is `conflict` on `email`.
pub async fn create(ctx: &Ctx, tx: &mut Tx<'_>, new: NewUser<'_>) -> Result<(User, Tokens), Error> {
    let user = users::insert(tx, new).await?;
    let (tokens, _) = sessions::open(ctx, tx, &user, None).await?;
    let registered = data::UserRegistered {
        user: user.clone().into(),
    };
    tx.emit_by(user.id, user.id, &registered).await?;
    if !user.email_verified {
        // A new member's first mail: never over the limit.
        verification::issue(tx, &user, ctx.now()).await?;
    }
    Ok((user, tokens))
}
