//! The commerce worker (`olympus-commerce`): catalog, inventory, orders and
//! payments, for the tenant of the caller's token.
//!
//! # Layout
//! - [`products`]: `products.create/get/list/update`, `inventory.adjust`;
//! - [`orders`]: `orders.create/get/list/cancel/fulfill` and the order
//!   state machine;
//! - [`payments`]: `payments.authorize/capture/void/refund`, through a
//!   [`provider::PaymentProvider`] (the built-in `test` one by default);
//! - domain checks: [`money`] (ISO 4217, minor units), [`address`]
//!   (ISO 3166-1), [`stock`] (the one bound every change of stock keeps).
//!
//! Every handler works in the request's transaction (`Meta::tx`), so the
//! operations marked I store their reply with their change (contract §6).
//! Who may call what is the catalog's (`olympus_contracts::operation`),
//! checked by the runtime against the caller's current role.

pub mod address;
pub mod money;
pub mod orders;
pub mod payments;
pub mod products;
pub mod provider;
pub mod stock;

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
    let (authorize, capture, void, refund) = (
        with(&provider),
        with(&provider),
        with(&provider),
        with(&provider),
    );
    Worker {
        service: Service::Commerce,
        version: env!("CARGO_PKG_VERSION"),
        description: "Olympus commerce: catalog, inventory, orders and payments",
        endpoints: vec![
            endpoint(op::COMMERCE_PRODUCTS_CREATE, products::create),
            endpoint(op::COMMERCE_PRODUCTS_GET, products::get),
            endpoint(op::COMMERCE_PRODUCTS_LIST, products::list),
            endpoint(op::COMMERCE_PRODUCTS_UPDATE, products::update),
            endpoint(op::COMMERCE_INVENTORY_ADJUST, products::adjust),
            endpoint(op::COMMERCE_ORDERS_CREATE, orders::create),
            endpoint(op::COMMERCE_ORDERS_GET, orders::get),
            endpoint(op::COMMERCE_ORDERS_LIST, orders::list),
            endpoint(op::COMMERCE_ORDERS_CANCEL, orders::cancel),
            endpoint(op::COMMERCE_ORDERS_FULFILL, orders::fulfill),
            endpoint(op::COMMERCE_PAYMENTS_AUTHORIZE, move |app, call| {
                payments::authorize(app, call, Arc::clone(&authorize))
            }),
            endpoint(op::COMMERCE_PAYMENTS_CAPTURE, move |app, call| {
                payments::capture(app, call, Arc::clone(&capture))
            }),
            endpoint(op::COMMERCE_PAYMENTS_VOID, move |app, call| {
                payments::void(app, call, Arc::clone(&void))
            }),
            endpoint(op::COMMERCE_PAYMENTS_REFUND, move |app, call| {
                payments::refund(app, call, Arc::clone(&refund))
            }),
        ],
    }
}
