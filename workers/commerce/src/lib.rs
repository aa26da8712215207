//! The commerce worker (`olympus-commerce`): catalog, inventory, orders and
//! payments, for the tenant of the caller's token.
//!
//! # Layout
//! - [`products`]: `products.create/get/list/update`, `inventory.adjust`;
//! - [`variants`]: `products.variants.create/update` (revision 3);
//! - [`promotions`]: `promotions.create/get/list/update` (revision 3), and
//!   the discount a promotion gives;
//! - [`carts`]: `carts.create/get/items.set/update/checkout` (revision 3):
//!   carts priced live, checked out into orders;
//! - [`orders`]: `orders.create/get/list/cancel/fulfill` and the order
//!   state machine;
//! - [`payments`]: `payments.authorize/capture/void/refund`, through a
//!   [`provider::PaymentProvider`] (the built-in `test` one by default);
//! - domain checks: [`money`] (ISO 4217, minor units), [`address`]
//!   (ISO 3166-1), [`stock`] (the one bound every change of stock keeps).
//!
//! Every handler works in the request's transaction (`Ctx::tx`), so the
//! operations marked I store their reply with their change (contract §6).
//! Who may call what is the catalog's (`olympus_contracts::operation`),
//! checked by the runtime against the caller's current role.

pub mod address;
pub mod carts;
pub mod money;
pub mod orders;
pub mod payments;
pub mod products;
pub mod promotions;
pub mod provider;
pub mod stock;
pub mod variants;

use olympus_contracts::operation::{self as op, Service};
use olympus_runtime::{endpoint, Worker};
use std::sync::Arc;

use crate::provider::{PaymentProvider, TestProvider};

/// The commerce worker with the built-in `test` payment provider.
pub fn worker() -> Worker {
    worker_with(Arc::new(TestProvider))
}

/// The commerce worker with another payment provider.
pub fn worker_with(provider: Arc<dyn PaymentProvider>) -> Worker {
    let with = |provider: &Arc<dyn PaymentProvider>| Arc::clone(provider);
    let (checkout, authorize, capture, void, refund) = (
        with(&provider),
        with(&provider),
        with(&provider),
        with(&provider),
        with(&provider),
    );
    Worker {
        service: Service::Commerce,
        version: env!("CARGO_PKG_VERSION"),
        description: "Olympus commerce: catalog, inventory, carts, orders and payments",
        endpoints: vec![
            endpoint(op::CommerceProductsCreate, products::create),
            endpoint(op::CommerceProductsGet, products::get),
            endpoint(op::CommerceProductsList, products::list),
            endpoint(op::CommerceProductsUpdate, products::update),
            endpoint(op::CommerceInventoryAdjust, products::adjust),
            endpoint(op::CommerceProductsVariantsCreate, variants::create),
            endpoint(op::CommerceProductsVariantsUpdate, variants::update),
            endpoint(op::CommercePromotionsCreate, promotions::create),
            endpoint(op::CommercePromotionsGet, promotions::get),
            endpoint(op::CommercePromotionsList, promotions::list),
            endpoint(op::CommercePromotionsUpdate, promotions::update),
            endpoint(op::CommerceCartsCreate, carts::create),
            endpoint(op::CommerceCartsGet, carts::get),
            endpoint(op::CommerceCartsItemsSet, carts::set_item),
            endpoint(op::CommerceCartsUpdate, carts::update),
            endpoint(op::CommerceCartsCheckout, move |ctx, request| {
                carts::checkout(ctx, request, Arc::clone(&checkout))
            }),
            endpoint(op::CommerceOrdersCreate, orders::create),
            endpoint(op::CommerceOrdersGet, orders::get),
            endpoint(op::CommerceOrdersList, orders::list),
            endpoint(op::CommerceOrdersCancel, orders::cancel),
            endpoint(op::CommerceOrdersFulfill, orders::fulfill),
            endpoint(op::CommercePaymentsAuthorize, move |ctx, request| {
                payments::authorize(ctx, request, Arc::clone(&authorize))
            }),
            endpoint(op::CommercePaymentsCapture, move |ctx, request| {
                payments::capture(ctx, request, Arc::clone(&capture))
            }),
            endpoint(op::CommercePaymentsVoid, move |ctx, request| {
                payments::void(ctx, request, Arc::clone(&void))
            }),
            endpoint(op::CommercePaymentsRefund, move |ctx, request| {
                payments::refund(ctx, request, Arc::clone(&refund))
            }),
        ],
        prepare: None,
    }
}
