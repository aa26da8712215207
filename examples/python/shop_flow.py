"""Olympus from Python: a shop, from catalog to refund, on the typed client.

tenant.create -> products.create -> orders.create (with an Idempotency-Key,
retried: one order) -> payments.authorize -> payments.capture (retried with
its key: charged once) -> payments.refund (part, then the rest: the order is
refunded). Money is `Money(amount in minor units, currency)`:

    pip install -r examples/python/requirements.txt ./clients/python
    NATS_URL=nats://127.0.0.1:4222 OLYMPUS_SUBJECT_PREFIX=olympus \\
        python3 examples/python/shop_flow.py

Prints one JSON line per step; exits non-zero at the first reply that breaks
the contract. The end-to-end tests run it against `olympus serve`.
"""

from __future__ import annotations

import asyncio
import uuid

from flows import PASSWORD, check, run, slug, step
from olympus_client import Olympus
from olympus_client.errors import InsufficientStock, ValidationFailed
from olympus_client.models import (
    Address,
    Money,
    NewOwner,
    OrderItemRequest,
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
)


def eur(amount: int) -> Money:
    return Money(amount=amount, currency="EUR")


async def flow(client: Olympus) -> None:
    name = slug("shop")
    created = await client.tenant.create(
        slug=name, name="Python Shop", owner=NewOwner(email=f"owner@{name}.example.com", password=PASSWORD)
    )
    owner = created.tokens.access_token

    made = await client.commerce.products_create(token=owner, sku="MUG-1", name="Blue Mug", price=eur(1250), stock=3)
    check(made.product.price == eur(1250) and made.product.stock == 3, "products.create", made)
    product_id = made.product.id
    step("commerce.products.create")

    items = [OrderItemRequest(product_id=product_id, quantity=2)]
    address = Address(name="Ada", line1="1 Main St", city="Berlin", postal_code="10115", country="DE")
    key = f"checkout-{uuid.uuid4()}"
    first = await client.commerce.orders_create(token=owner, items=items, shipping_address=address, idempotency_key=key)
    check(first.order.total == eur(2500) and first.order.status == OrderStatus.PENDING_PAYMENT, "orders.create", first)
    retried = await client.commerce.orders_create(token=owner, items=items, shipping_address=address, idempotency_key=key)
    check(retried.order == first.order, "a retried order is the same order", retried)
    product = await client.commerce.products_get(token=owner, id=product_id)
    check(product.product.stock == 1, "stock reserved once", product)
    try:
        await client.commerce.orders_create(token=owner, items=items)
        check(False, "insufficient_stock")
    except InsufficientStock as short:
        short_line = {"product_id": str(product_id), "variant_id": str(product_id), "requested": 2, "available": 1}
        check(short.details["items"] == [short_line], "its items", short.details)
    order_id = first.order.id
    step("commerce.orders.create", number=first.order.number)

    authorized = await client.commerce.payments_authorize(
        token=owner, order_id=order_id, method=PaymentMethod(type="card", token="tok_visa")
    )
    payment = authorized.payment
    check(payment.status == PaymentStatus.AUTHORIZED and payment.amount == eur(2500), "payments.authorize", payment)
    step("commerce.payments.authorize")

    key = f"capture-{payment.id}"
    captured = await client.commerce.payments_capture(token=owner, payment_id=payment.id, idempotency_key=key)
    check(captured.payment.status == PaymentStatus.CAPTURED, "payments.capture", captured)
    again = await client.commerce.payments_capture(token=owner, payment_id=payment.id, idempotency_key=key)
    check(again.payment == captured.payment, "a retried capture is the same capture", again)
    paid = await client.commerce.orders_get(token=owner, id=order_id)
    check(paid.order.status == OrderStatus.PAID, "the order is paid", paid)
    step("commerce.payments.capture")

    part = await client.commerce.payments_refund(token=owner, payment_id=payment.id, amount=eur(500))
    check(part.payment.status == PaymentStatus.PARTIALLY_REFUNDED and part.payment.refunded_amount == eur(500), "a partial refund", part)
    try:
        await client.commerce.payments_refund(token=owner, payment_id=payment.id, amount=eur(2001))
        check(False, "no refund beyond the capture")
    except ValidationFailed:
        pass
    rest = await client.commerce.payments_refund(token=owner, payment_id=payment.id)
    check(rest.payment.status == PaymentStatus.REFUNDED and rest.payment.refunded_amount == eur(2500), "the rest", rest)
    refunded = await client.commerce.orders_get(token=owner, id=order_id)
    check(refunded.order.status == OrderStatus.REFUNDED, "the order is refunded", refunded)
    step("commerce.payments.refund")


if __name__ == "__main__":
    asyncio.run(run(flow))
