//! End-to-end tests: the workers over real NATS and Postgres, called as
//! the gateway and other-language clients call them.

mod account;
mod atomicity;
mod audit;
mod carts;
mod cli;
mod cluster;
mod commerce;
mod containers;
mod delete_me;
mod deploy;
mod email_change;
mod emails;
mod errors;
mod events;
mod export;
mod failover;
mod faults;
mod fuzz;
mod gateway;
mod hostile;
mod idempotency;
mod identity;
mod insiders;
mod limits;
mod lockout;
mod login;
mod mfa;
mod micro;
mod nats_permissions;
mod password_reset;
mod processes;
mod promotions;
mod python_client;
mod readme;
mod relay;
mod revocation;
mod rls;
mod seed;
mod sessions;
mod signing_keys;
mod structure;
mod tenants;
mod tokens;
mod variants;
mod wire;

/// The `olympus` command, built by this package.
pub const OLYMPUS: &str = env!("CARGO_BIN_EXE_olympus-e2e");
