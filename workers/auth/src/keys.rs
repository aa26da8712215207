//! Signing keys (contract §4): made, sealed, opened and used here only.
//!
//! A key is an Ed25519 pair. Its public half is read by every process (see
//! `olympus_runtime::tokens`); its private half is stored sealed with
//! XChaCha20-Poly1305 under the key-encryption key from the environment
//! (`OLYMPUS_KEY_ENCRYPTION_KEY`), which Postgres never sees, with the key
//! id as associated data (a sealed key copied onto another row does not
//! open). Only the auth worker (its [`Signer`], made the first time a token
//! is signed or when the worker prepares) and `olympus keys add` hold the
//! key-encryption key; a process that does not run auth never reads a
//! private key, and never needs the key-encryption key to start.
//!
//! How `olympus_app`, the request role, is kept from private keys: it has
//! no privilege on `signing_keys` at all. The auth worker reads the sealed
//! key on the owner pool, by id, only when the active key changes, and
//! opens it in memory; a private key is erased from the row once it stops
//! signing (retired or revoked).
//!
//! States move forward only: standby → active → retired → revoked (and
//! standby → revoked). Activating a key retires the active one; retiring
//! or revoking the active key hands signing to the newest standby key, and
//! without one is refused (`invalid_state`). Every change takes the table's
//! rows in order under a lock, so exactly one key is active (and a unique
//! index says so too).

use anyhow::{bail, Context as _};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Utc};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use olympus_runtime::tokens::{Claims, KeyState, ACCESS_TOKEN_TYPE};
use olympus_runtime::{App, Config, Error};
use rand::RngCore;
use sqlx::PgPool;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use zeroize::Zeroizing;

/// What every process reads of the keys
/// (`olympus_runtime::revocation::Sources::signing_keys`).
pub const PUBLIC_KEYS: &str =
    "SELECT kid, state, public_key, created_at, retired_at FROM signing_keys";

/// How long a new key should stay on standby before it signs: longer than
/// any verifier caches the key set (the gateway's `/.well-known/jwks.json`
/// says 5 minutes), so that every verifier knows it first.
pub const RECOMMENDED_STANDBY: Duration = Duration::from_secs(600);

/// The version byte of sealed keys.
const SEALED_V1: u8 = 1;

/// The key-encryption key.
pub struct Kek(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(..)")
    }
}

impl Kek {
    /// Parses a key given as base64 of 32 bytes.
    pub fn parse(value: &str) -> anyhow::Result<Self> {
        let bytes = Zeroizing::new(
            STANDARD
                .decode(value.trim())
                .map_err(|_| anyhow::anyhow!("it is not base64"))?,
        );
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            anyhow::anyhow!(
                "it is {} bytes, not 32 (make one with `openssl rand -base64 32`)",
                bytes.len()
            )
        })?;
        Ok(Self(Zeroizing::new(key)))
    }

    /// The key of this deployment as [`Kek::from_config`] finds it, without
    /// making the development one: `None` when it is to be made (for
    /// `olympus doctor`, which changes nothing).
    pub fn existing(config: &Config) -> anyhow::Result<Option<Self>> {
        let unset = config
            .key_encryption_key
            .as_deref()
            .is_none_or(|v| v.trim().is_empty());
        if unset && config.is_default_database() && !development_kek_path()?.exists() {
            return Ok(None);
        }
        Self::from_config(config).map(Some)
    }

    /// The key of this deployment: `OLYMPUS_KEY_ENCRYPTION_KEY`; unset, on
    /// a development machine (the default DATABASE_URL), the one kept in
    /// [`development_kek_path`], made the first time.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        if let Some(value) = config
            .key_encryption_key
            .as_deref()
            .filter(|v| !v.trim().is_empty())
        {
            return Self::parse(value).context("reading OLYMPUS_KEY_ENCRYPTION_KEY");
        }
        if !config.is_default_database() {
            bail!(
                "OLYMPUS_KEY_ENCRYPTION_KEY is not set: the auth worker needs it to open its \
                 signing keys. Make one with `openssl rand -base64 32`, keep it in your secret \
                 store and give it to every process that runs the auth worker (only a \
                 development machine, with the default DATABASE_URL, makes its own)"
            );
        }
        let path = development_kek_path()?;
        let kek = Self::development(&path)?;
        tracing::warn!(
            path = %path.display(),
            "OLYMPUS_KEY_ENCRYPTION_KEY is not set: using the development key-encryption key \
             (fine for development; production sets its own)"
        );
        Ok(kek)
    }

    /// The key kept at `path`, made (readable by its owner only) when
    /// missing; processes starting together agree on one.
    fn development(path: &std::path::Path) -> anyhow::Result<Self> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        if let Ok(text) = std::fs::read_to_string(path) {
            return Self::parse(&text)
                .with_context(|| format!("reading the key in {}", path.display()));
        }
        let dir = path.parent().context("the key's path has no folder")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(key.as_mut_slice());
        let temporary = dir.join(format!(
            ".key-encryption-key.{}.{}",
            std::process::id(),
            rand::rngs::OsRng.next_u64()
        ));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)
            .with_context(|| format!("creating {}", temporary.display()))?;
        file.write_all(STANDARD.encode(key.as_slice()).as_bytes())?;
        file.sync_all()?;
        // A link fails when the name exists: the first process's key stays.
        let linked = std::fs::hard_link(&temporary, path);
        let _ = std::fs::remove_file(&temporary);
        if linked.is_err() {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            return Self::parse(&text);
        }
        Ok(Self(key))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.as_slice().into())
    }

    /// `plain` sealed for the key `kid`.
    fn seal(&self, kid: &str, plain: &[u8]) -> anyhow::Result<Vec<u8>> {
        self.seal_for(kid.as_bytes(), plain)
            .with_context(|| format!("sealing signing key {kid:?}"))
    }

    /// What [`Kek::seal`] sealed for `kid`.
    fn open(&self, kid: &str, sealed: &[u8]) -> anyhow::Result<Zeroizing<Vec<u8>>> {
        self.open_for(kid.as_bytes(), sealed).ok_or_else(|| {
            anyhow::anyhow!(
                "signing key {kid:?} does not open with this key-encryption key (it was sealed \
                 under another OLYMPUS_KEY_ENCRYPTION_KEY)"
            )
        })
    }

    /// `plain` sealed (XChaCha20-Poly1305, a random nonce) with `owner` as
    /// associated data: it opens only for the same owner (a signing key's
    /// id, a user's TOTP secret), so a sealed value copied to another row
    /// does not open there.
    pub(crate) fn seal_for(&self, owner: &[u8], plain: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: owner,
                },
            )
            .map_err(|_| anyhow::anyhow!("the cipher refused to seal"))?;
        let mut out = Vec::with_capacity(1 + nonce.len() + sealed.len());
        out.push(SEALED_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// What [`Kek::seal_for`] sealed for `owner`; `None` when it does not
    /// open (another key-encryption key, another owner, tampered).
    pub(crate) fn open_for(&self, owner: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let (&version, rest) = sealed.split_first()?;
        if version != SEALED_V1 || rest.len() < 24 {
            return None;
        }
        let (nonce, body) = rest.split_at(24);
        self.cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: owner,
                },
            )
            .map(Zeroizing::new)
            .ok()
    }

    /// A key for `purpose` derived from this one (HMAC-SHA-256 of the
    /// purpose under it, HKDF's extract step): keyed hashes use it, never
    /// the key-encryption key itself.
    pub(crate) fn derive(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        use hmac::{Mac, SimpleHmac};
        let mut mac = <SimpleHmac<sha2::Sha256> as Mac>::new_from_slice(self.0.as_slice())
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(purpose.as_bytes());
        Zeroizing::new(mac.finalize().into_bytes().into())
    }

    /// This process's key-encryption key ([`Kek::from_config`]), read once.
    pub fn of(app: &App) -> anyhow::Result<Arc<Self>> {
        app.extension(|app| Self::from_config(app.config()))
    }
}

/// Where a development machine keeps its key-encryption key:
/// `$XDG_DATA_HOME/olympus/key-encryption-key`, by default under
/// `~/.local/share`.
pub fn development_kek_path() -> anyhow::Result<PathBuf> {
    let data = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .context("neither OLYMPUS_KEY_ENCRYPTION_KEY nor HOME is set")?;
            PathBuf::from(home).join(".local/share")
        }
    };
    Ok(data.join("olympus/key-encryption-key"))
}

/// A new key pair, its private half sealed.
struct NewKey {
    kid: String,
    public_key: [u8; 32],
    sealed: Vec<u8>,
}

impl NewKey {
    /// A key made now from the OS generator; its id says when.
    fn generate(kek: &Kek, now: DateTime<Utc>) -> anyhow::Result<Self> {
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(seed.as_mut_slice());
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        let mut suffix = [0u8; 4];
        rand::rngs::OsRng.fill_bytes(&mut suffix);
        let kid = format!(
            "{}-{:02x}{:02x}{:02x}{:02x}",
            now.format("%Y%m%d"),
            suffix[0],
            suffix[1],
            suffix[2],
            suffix[3]
        );
        let der = signing
            .to_pkcs8_der()
            .map_err(|e| anyhow::anyhow!("encoding a new signing key: {e}"))?;
        let sealed = kek.seal(&kid, der.as_bytes())?;
        Ok(Self {
            kid,
            public_key: signing.verifying_key().to_bytes(),
            sealed,
        })
    }
}

/// A key as `olympus keys list` shows it: never its material.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyInfo {
    pub kid: String,
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    pub retired_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Every key, newest first.
pub async fn list(pool: &PgPool) -> anyhow::Result<Vec<KeyInfo>> {
    sqlx::query_as(
        "SELECT kid, state, created_at, activated_at, retired_at, revoked_at
           FROM signing_keys ORDER BY created_at DESC, kid",
    )
    .fetch_all(pool)
    .await
    .context("reading the signing keys")
}

/// Why a key cannot change state.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("no signing key {0:?}")]
    NotFound(String),
    /// `invalid_state`, as the contract calls it.
    #[error("invalid_state: key {kid:?} is {state}; {why}")]
    InvalidState {
        kid: String,
        state: &'static str,
        why: &'static str,
    },
    #[error(transparent)]
    Database(#[from] anyhow::Error),
}

/// A state a key entered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub kid: String,
    pub from: KeyState,
    pub to: KeyState,
}

/// Adds a key on standby: published from now on, signing once activated.
pub async fn add(pool: &PgPool, kek: &Kek, now: DateTime<Utc>) -> anyhow::Result<String> {
    let key = NewKey::generate(kek, now)?;
    sqlx::query(
        "INSERT INTO signing_keys (kid, state, public_key, sealed_private_key, created_at)
         VALUES ($1, 'standby', $2, $3, $4)",
    )
    .bind(&key.kid)
    .bind(key.public_key.as_slice())
    .bind(&key.sealed)
    .bind(now)
    .execute(pool)
    .await
    .context("storing a new signing key")?;
    Ok(key.kid)
}

/// Makes the standby key `kid` the one that signs; the active key retires.
pub async fn activate(pool: &PgPool, kid: &str, now: DateTime<Utc>) -> Result<Vec<Moved>, Refused> {
    transition(pool, async |keys, tx| {
        let state = state_of(keys, kid)?;
        if state != KeyState::Standby {
            return Err(Refused::InvalidState {
                kid: kid.to_owned(),
                state: state.as_str(),
                why: "only a standby key can be activated",
            });
        }
        let mut moved = retire_active(keys, tx, now).await?;
        moved.push(activate_row(tx, kid, now).await?);
        Ok(moved)
    })
    .await
}

/// Retires the active key `kid`, handing signing to the newest standby key.
pub async fn retire(pool: &PgPool, kid: &str, now: DateTime<Utc>) -> Result<Vec<Moved>, Refused> {
    transition(pool, async |keys, tx| {
        let state = state_of(keys, kid)?;
        if state != KeyState::Active {
            return Err(Refused::InvalidState {
                kid: kid.to_owned(),
                state: state.as_str(),
                why: "only the active key can be retired (revoke a standby key you do not want)",
            });
        }
        let next = newest_standby(keys, kid)?;
        let mut moved = retire_active(keys, tx, now).await?;
        moved.push(activate_row(tx, &next, now).await?);
        Ok(moved)
    })
    .await
}

/// Revokes `kid` in any state: unpublished, its tokens refused. The active
/// key hands signing to the newest standby key first.
pub async fn revoke(pool: &PgPool, kid: &str, now: DateTime<Utc>) -> Result<Vec<Moved>, Refused> {
    transition(pool, async |keys, tx| {
        let state = state_of(keys, kid)?;
        if state == KeyState::Revoked {
            return Err(Refused::InvalidState {
                kid: kid.to_owned(),
                state: state.as_str(),
                why: "it is revoked already",
            });
        }
        let next = match state {
            KeyState::Active => Some(newest_standby(keys, kid)?),
            _ => None,
        };
        // Revoked first: the active one out of the way of its successor.
        revoke_row(tx, kid, now).await?;
        let mut moved = vec![Moved {
            kid: kid.to_owned(),
            from: state,
            to: KeyState::Revoked,
        }];
        if let Some(next) = next {
            moved.push(activate_row(tx, &next, now).await?);
        }
        Ok(moved)
    })
    .await
}

type Keys = Vec<(String, KeyState, DateTime<Utc>)>;

/// Runs `change` on every key's `(kid, state, created_at)`, taken under a
/// lock so that changes happen one at a time, and commits.
async fn transition(
    pool: &PgPool,
    change: impl AsyncFnOnce(
        &Keys,
        &mut sqlx::Transaction<'static, sqlx::Postgres>,
    ) -> Result<Vec<Moved>, Refused>,
) -> Result<Vec<Moved>, Refused> {
    let mut tx = pool.begin().await.context("starting a key change")?;
    lock(&mut tx).await?;
    let rows: Vec<(String, String, DateTime<Utc>)> =
        sqlx::query_as("SELECT kid, state, created_at FROM signing_keys")
            .fetch_all(&mut *tx)
            .await
            .context("reading the signing keys")?;
    let keys = rows
        .into_iter()
        .map(|(kid, state, at)| {
            let state = KeyState::parse(&state)
                .with_context(|| format!("signing key {kid:?} has state {state:?}"))?;
            Ok((kid, state, at))
        })
        .collect::<anyhow::Result<Keys>>()?;
    let moved = change(&keys, &mut tx).await?;
    // An operator's command on the owner pool, not a request's commit.
    #[expect(clippy::disallowed_methods, reason = "not a request's commit")]
    tx.commit().await.context("committing a key change")?;
    Ok(moved)
}

fn state_of(keys: &Keys, kid: &str) -> Result<KeyState, Refused> {
    keys.iter()
        .find(|(k, _, _)| k == kid)
        .map(|(_, state, _)| *state)
        .ok_or_else(|| Refused::NotFound(kid.to_owned()))
}

/// The newest standby key, to take over from the active `kid`.
fn newest_standby(keys: &Keys, kid: &str) -> Result<String, Refused> {
    keys.iter()
        .filter(|(_, state, _)| *state == KeyState::Standby)
        .max_by(|a, b| a.2.cmp(&b.2).then(a.0.cmp(&b.0)))
        .map(|(k, _, _)| k.clone())
        .ok_or_else(|| Refused::InvalidState {
            kid: kid.to_owned(),
            state: KeyState::Active.as_str(),
            why: "no standby key can take over signing: add one first (olympus keys add)",
        })
}

async fn retire_active(
    keys: &Keys,
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    now: DateTime<Utc>,
) -> Result<Vec<Moved>, Refused> {
    let Some((active, _, _)) = keys.iter().find(|(_, s, _)| *s == KeyState::Active) else {
        return Ok(Vec::new());
    };
    sqlx::query(
        "UPDATE signing_keys
            SET state = 'retired', retired_at = $2, sealed_private_key = NULL
          WHERE kid = $1",
    )
    .bind(active)
    .bind(now)
    .execute(&mut **tx)
    .await
    .context("retiring the active signing key")?;
    Ok(vec![Moved {
        kid: active.clone(),
        from: KeyState::Active,
        to: KeyState::Retired,
    }])
}

async fn activate_row(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    kid: &str,
    now: DateTime<Utc>,
) -> Result<Moved, Refused> {
    sqlx::query("UPDATE signing_keys SET state = 'active', activated_at = $2 WHERE kid = $1")
        .bind(kid)
        .bind(now)
        .execute(&mut **tx)
        .await
        .context("activating a signing key")?;
    Ok(Moved {
        kid: kid.to_owned(),
        from: KeyState::Standby,
        to: KeyState::Active,
    })
}

/// Revokes `kid` in `tx`: unpublished, its private key erased.
async fn revoke_row(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    kid: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE signing_keys SET state = 'revoked', revoked_at = $2, sealed_private_key = NULL
          WHERE kid = $1",
    )
    .bind(kid)
    .bind(now)
    .execute(&mut **tx)
    .await
    .context("revoking a signing key")?;
    Ok(())
}

/// Takes the signing keys' lock in `tx`: changes to them happen one at a
/// time.
async fn lock(tx: &mut sqlx::Transaction<'static, sqlx::Postgres>) -> anyhow::Result<()> {
    sqlx::query("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut **tx)
        .await
        .context("locking the signing keys")?;
    Ok(())
}

/// Makes the first key, active, when there is none (a new deployment, or
/// one moving from revision 2); processes starting together make one.
/// On a development machine, an active key that does not open with the
/// development key-encryption key (made on another machine, or the file
/// was deleted) is replaced by a new one.
pub async fn ensure_active(
    pool: &PgPool,
    kek: &Kek,
    config: &Config,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let mut tx = pool
        .begin()
        .await
        .context("starting the first signing key")?;
    lock(&mut tx).await?;
    let active: Option<(String, Option<Vec<u8>>)> =
        sqlx::query_as("SELECT kid, sealed_private_key FROM signing_keys WHERE state = 'active'")
            .fetch_optional(&mut *tx)
            .await
            .context("reading the active signing key")?;
    let stale = match &active {
        Some((kid, Some(sealed))) => match kek.open(kid, sealed) {
            Ok(_) => return Ok(kid.clone()),
            Err(err)
                if config
                    .key_encryption_key
                    .as_deref()
                    .is_none_or(|k| k.trim().is_empty()) =>
            {
                tracing::warn!(error = %err, "development: replacing the active signing key");
                Some(kid.clone())
            }
            Err(err) => return Err(err),
        },
        Some((kid, None)) => bail!("the active signing key {kid:?} has no private key"),
        None => None,
    };
    if let Some(kid) = stale {
        revoke_row(&mut tx, &kid, now).await?;
    }
    let key = NewKey::generate(kek, now)?;
    sqlx::query(
        "INSERT INTO signing_keys
                (kid, state, public_key, sealed_private_key, created_at, activated_at)
         VALUES ($1, 'active', $2, $3, $4, $4)",
    )
    .bind(&key.kid)
    .bind(key.public_key.as_slice())
    .bind(&key.sealed)
    .bind(now)
    .execute(&mut *tx)
    .await
    .context("storing the first signing key")?;
    // At start-up, on the owner pool: no request waits, and a failure
    // stops the start, so there is no outcome to report.
    #[expect(clippy::disallowed_methods, reason = "not a request's commit")]
    tx.commit().await.context("storing the first signing key")?;
    tracing::info!(kid = %key.kid, "made the first signing key");
    Ok(key.kid)
}

/// The stored key `kid` opened with `kek`, on `pool` (the owner's: the
/// request role cannot read the table): what the [`Signer`] signs with, and
/// what `olympus doctor` checks opens.
pub async fn open_stored(pool: &PgPool, kek: &Kek, kid: &str) -> anyhow::Result<EncodingKey> {
    let sealed: Option<Option<Vec<u8>>> = read_within(
        sqlx::query_scalar("SELECT sealed_private_key FROM signing_keys WHERE kid = $1")
            .bind(kid)
            .fetch_optional(pool),
    )
    .await?;
    open_sealed(kek, kid, sealed.flatten())
}

/// The key the table says is active now, opened with `kek`: one read.
async fn open_active(pool: &PgPool, kek: &Kek) -> anyhow::Result<(String, EncodingKey)> {
    let active: Option<(String, Option<Vec<u8>>)> = read_within(
        sqlx::query_as("SELECT kid, sealed_private_key FROM signing_keys WHERE state = 'active'")
            .fetch_optional(pool),
    )
    .await?;
    let (kid, sealed) = active.context("no signing key is active")?;
    let key = open_sealed(kek, &kid, sealed)?;
    Ok((kid, key))
}

/// A read of the signing keys, bounded to 2 s.
async fn read_within<T>(
    read: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> anyhow::Result<T> {
    tokio::time::timeout(Duration::from_secs(2), read)
        .await
        .context("reading a signing key timed out")?
        .context("reading a signing key")
}

/// The private key `sealed` of `kid`, opened with `kek`.
fn open_sealed(kek: &Kek, kid: &str, sealed: Option<Vec<u8>>) -> anyhow::Result<EncodingKey> {
    let sealed =
        sealed.with_context(|| format!("signing key {kid:?} has no private key (any more)"))?;
    Ok(EncodingKey::from_ed_der(&kek.open(kid, &sealed)?))
}

/// The auth worker's signer: the key-encryption key, and the active key
/// opened (made the first time it is asked for, see [`Signer::of`]).
pub struct Signer {
    kek: Arc<Kek>,
    opened: RwLock<Option<Arc<Opened>>>,
}

struct Opened {
    kid: String,
    key: EncodingKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kid = self.current().map(|o| o.kid.clone());
        f.debug_struct("Signer")
            .field("kid", &kid)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// This process's signer.
    pub fn of(app: &App) -> anyhow::Result<Arc<Self>> {
        let kek = Kek::of(app)?;
        app.extension(|_| {
            Ok(Self {
                kek,
                opened: RwLock::default(),
            })
        })
    }

    fn current(&self) -> Option<Arc<Opened>> {
        self.opened
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The active key opened: the one in memory while it is still the
    /// active one the runtime knows of; else read and opened now.
    async fn active(&self, app: &App) -> anyhow::Result<Arc<Opened>> {
        let active = app
            .tokens()
            .active_kid()
            .context("no signing key is active")?;
        if let Some(opened) = self.current().filter(|o| o.kid == active) {
            return Ok(opened);
        }
        // The key set changed: the key active now, as the table says (this
        // process's view may be a poll behind, and the key it names may
        // have stopped signing meanwhile), in one read.
        let (kid, key) = open_active(app.db().pool(), &self.kek).await?;
        let opened = Arc::new(Opened { kid, key });
        *self.opened.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&opened));
        tracing::info!(kid = %opened.kid, "signing with key");
        Ok(opened)
    }

    /// `claims` signed with the active key.
    pub async fn sign(&self, app: &App, claims: &Claims) -> Result<String, Error> {
        let opened = self.active(app).await.map_err(Error::internal)?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        header.kid = Some(opened.kid.clone());
        jsonwebtoken::encode(&header, claims, &opened.key)
            .map_err(|e| Error::internal(anyhow::anyhow!("signing an access token: {e}")))
    }
}

/// The auth worker's preparation: the key-encryption key read (a process
/// without one does not start), a first key made when there is none, and
/// the active key opened, so that a wrong key-encryption key stops the
/// start rather than the first login.
pub async fn prepare(app: App) -> anyhow::Result<()> {
    let signer = Signer::of(&app)?;
    ensure_active(app.db().pool(), &signer.kek, app.config(), app.now()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek(byte: u8) -> Kek {
        Kek::parse(&STANDARD.encode([byte; 32])).unwrap()
    }

    #[test]
    fn a_sealed_key_opens_only_under_its_kek_and_its_kid() {
        let secret = b"a pkcs8 document";
        let sealed = kek(1).seal("k1", secret).unwrap();
        assert_eq!(kek(1).open("k1", &sealed).unwrap().as_slice(), secret);
        assert!(kek(2).open("k1", &sealed).is_err(), "another kek");
        assert!(kek(1).open("k2", &sealed).is_err(), "another row's kid");
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(kek(1).open("k1", &flipped).is_err(), "tampered");
        assert!(
            !sealed.windows(secret.len()).any(|w| w == secret),
            "no plain text in the sealed form"
        );
    }

    #[test]
    fn a_kek_is_32_bytes_of_base64_and_never_printed() {
        assert!(Kek::parse("not base64!").is_err());
        assert!(Kek::parse(&STANDARD.encode([1u8; 16])).is_err());
        let value = STANDARD.encode([9u8; 32]);
        let kek = Kek::parse(&value).unwrap();
        assert!(!format!("{kek:?}").contains(&value));
    }

    #[test]
    fn a_new_key_has_a_dated_id_and_opens_to_its_public_key() {
        let kek = kek(3);
        let now = Utc::now();
        let key = NewKey::generate(&kek, now).unwrap();
        assert!(
            key.kid.starts_with(&now.format("%Y%m%d-").to_string()),
            "{}",
            key.kid
        );
        let der = kek.open(&key.kid, &key.sealed).unwrap();
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        let signing = ed25519_dalek::SigningKey::from_pkcs8_der(&der).unwrap();
        assert_eq!(signing.verifying_key().to_bytes(), key.public_key);
    }

    #[test]
    fn processes_starting_together_keep_one_development_kek() {
        let dir = std::env::temp_dir().join(format!("olympus-kek-{}", uuid::Uuid::now_v7()));
        let path = dir.join("olympus/key-encryption-key");
        let keys: Vec<Kek> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| Kek::development(&path)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap().unwrap())
                .collect()
        });
        assert!(keys.iter().all(|k| *k.0 == *keys[0].0));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
