//! Pages of every list operation (contract §4): `{limit, cursor}` in,
//! `{items, next_cursor}` out.
//!
//! Lists are ordered by their items' ids (UUIDv7, so creation order) and
//! read by key: a page is the `limit` items after the last id of the
//! previous one. Items present when the listing started are each seen
//! exactly once however many are inserted or removed meanwhile; no offset
//! shifts.
//!
//! A cursor is opaque to callers; inside, it names the operation, the
//! scope (tenant) and the filter it was made for, and the last id. A cursor
//! of another operation, tenant or filter, or one that is not ours, is
//! `bad_request` on `cursor`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use olympus_contracts::shapes::{Page, PageRequest};
use olympus_contracts::ErrorCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Validation};
use olympus_contracts::operation::Operation;

/// What a cursor holds.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Cursor {
    /// `{service}.{operation}`.
    o: String,
    /// The scope (tenant) the list is of.
    s: Uuid,
    /// The filter, as the operation spells it.
    f: String,
    /// The last id of the previous page.
    a: Uuid,
}

/// Cursors start with this, so that a future scheme can tell them apart.
const VERSION: &str = "c1.";

/// A validated page request.
#[derive(Debug, Clone)]
pub struct Pager {
    operation: String,
    scope: Uuid,
    filter: String,
    limit: u32,
    after: Option<Uuid>,
}

impl Pager {
    /// Reads a page request of `operation` over `scope` with `filter`
    /// (empty when the operation has none).
    pub fn new(
        operation: &Operation,
        scope: Uuid,
        filter: &str,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<Self, Error> {
        let operation = format!("{}.{}", operation.service.as_str(), operation.name);
        let limit = limit.unwrap_or(PageRequest::DEFAULT_LIMIT);
        if !(1..=PageRequest::MAX_LIMIT).contains(&limit) {
            return Err(Validation::failed(
                "limit",
                [format!("must be 1 to {}", PageRequest::MAX_LIMIT)],
            ));
        }
        let after = match cursor {
            None => None,
            Some(cursor) => {
                let parsed =
                    decode(cursor).filter(|c| c.o == operation && c.s == scope && c.f == filter);
                let Some(parsed) = parsed else {
                    return Err(Error::new(ErrorCode::BadRequest)
                        .with_message("cursor is not one of this list's cursors")
                        .with_detail("field", "cursor"));
                };
                Some(parsed.a)
            }
        };
        Ok(Self {
            operation,
            scope,
            filter: filter.to_owned(),
            limit,
            after,
        })
    }

    /// The id to list after (`Uuid::nil()` on the first page: smaller than
    /// every id).
    pub fn after(&self) -> Uuid {
        self.after.unwrap_or(Uuid::nil())
    }

    /// The last id of the previous page, `None` on the first: for a list
    /// newest first, the id to list before.
    pub fn last(&self) -> Option<Uuid> {
        self.after
    }

    /// How many rows to fetch: one more than the page, to know whether
    /// another follows.
    pub fn fetch(&self) -> i64 {
        i64::from(self.limit) + 1
    }

    /// The page of `rows` (fetched in id order, at most [`Pager::fetch`]),
    /// each made an item by `item` (rows become contract shapes).
    pub fn page_of<R, T>(
        &self,
        rows: Vec<R>,
        item: impl Fn(R) -> Result<T, Error>,
        id: impl Fn(&T) -> Uuid,
    ) -> Result<Page<T>, Error> {
        let items = rows.into_iter().map(item).collect::<Result<Vec<_>, _>>()?;
        Ok(self.page(items, id))
    }

    /// The page of `rows` (fetched in id order, at most [`Pager::fetch`]).
    pub fn page<T>(&self, mut rows: Vec<T>, id: impl Fn(&T) -> Uuid) -> Page<T> {
        let limit = self.limit as usize;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|last| {
                encode(&Cursor {
                    o: self.operation.clone(),
                    s: self.scope,
                    f: self.filter.clone(),
                    a: id(last),
                })
            })
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

fn encode(cursor: &Cursor) -> String {
    let json = serde_json::to_vec(cursor).unwrap_or_default();
    format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(json))
}

fn decode(cursor: &str) -> Option<Cursor> {
    let body = cursor.strip_prefix(VERSION)?;
    if body.len() > 1024 {
        return None;
    }
    let json = URL_SAFE_NO_PAD.decode(body).ok()?;
    serde_json::from_slice(&json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let cursor = Cursor {
            o: "tenant.members.list".into(),
            s: Uuid::now_v7(),
            f: String::new(),
            a: Uuid::now_v7(),
        };
        assert_eq!(decode(&encode(&cursor)), Some(cursor));
        assert_eq!(decode("c1.!!!"), None);
        assert_eq!(decode("x"), None);
        assert_eq!(decode(&format!("c1.{}", "A".repeat(5000))), None);
    }
}
