//! The Olympus wire contract, version 1, in code.
//!
//! This crate is what the Go gateway, the Python services and the workers
//! agree on: subject names, request and reply shapes, error codes and their
//! statuses, event envelopes, and the codec that turns bytes into those
//! shapes. It has no database or runtime dependencies so that other teams can
//! read it without reading Olympus. [`spec::Spec`] is the machine-readable
//! form, committed as `contracts/spec/v1.json`; [`document`] renders it as
//! the prose form, `docs/contract.md`; snapshot tests keep both current.
//!
//! # Layout
//! - [`codec`]: MessagePack (maps with field names) or JSON, chosen by
//!   `Content-Type`; strict decoding that names the offending field.
//! - [`error`]: every error code with its status, and the error reply body.
//! - [`subject`]: subject and stream names derived from the prefix.
//! - [`headers`]: request and reply header names.
//! - [`shapes`]: shared shapes (user, tenant, tokens, roles).
//! - [`auth`], [`tenant`]: requests and replies of each service.
//! - [`event`]: the event envelope, event types and mail messages.
//! - [`operation`]: the catalog of operations (subject, access, shapes).
//! - [`spec`]: the machine-readable spec built from the catalog.

pub mod asyncapi;
pub mod auth;
pub mod codec;
pub mod commerce;
pub mod document;
pub mod error;
pub mod event;
pub mod headers;
pub mod operation;
// The Python package's generated modules: written and checked by a test.
#[cfg(test)]
mod python;
pub mod secret;
pub mod shapes;
pub mod spec;
pub mod subject;
pub mod tenant;

pub use codec::ContentType;
pub use error::{ErrorBody, ErrorCode};
pub use secret::Secret;
pub use subject::Subjects;
