"""Olympus from Python: a shop, from catalog to refund, on the typed client.

tenant.create -> products.create, a variant, a promotion -> a member's cart
(lines priced live, the code applied, a second code refused) ->
carts.checkout with a card (an Idempotency-Key, retried: one order, one
payment) -> the same code again (once per customer: refused) -> a cart the
stock cannot fill (insufficient_stock, nothing taken) -> payments.capture
(retried with its key: charged once) -> payments.refund (part, then the
rest: the order is refunded). Money is `Money(amount in minor units,
currency)`:

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
from olympus_client.errors import InsufficientStock, InvalidState, ValidationFailed
from olympus_client.models import (
    Address,
    CartStatus,
    Money,
    NewOwner,
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
    PromotionKind,
)


def eur(amount: int) -> Money:
    return Money(amount=amount, currency="EUR")


async def flow(client: Olympus) -> None:
    name = slug("shop")
    created = await client.tenant.create(
        slug=name, name="Python Shop", owner=NewOwner(email=f"owner@{name}.example.com", password=PASSWORD)
    )
    owner = created.tokens.access_token
    commerce = client.commerce

    made = await commerce.products_create(token=owner, sku="MUG-1", name="Blue Mug", price=eur(1250), stock=3)
    check(made.product.price == eur(1250) and made.product.stock == 3, "products.create", made)
    mug = made.product.id  # its first variant has its id
    sized = await commerce.products_variants_create(
        token=owner, product_id=mug, sku="MUG-1-XL", option_values={"size": "XL"}, price=eur(1800), stock=1
    )
    xl = next(v.id for v in sized.product.variants or [] if v.sku == "MUG-1-XL")
    step("commerce.products.create", variants=len(sized.product.variants or []))

    promotion = await commerce.promotions_create(
        token=owner, code="welcome-10", kind=PromotionKind.PERCENTAGE, percent=10,
        min_subtotal=eur(2000), per_customer_limit=1,
    )
    check(promotion.promotion.code == "WELCOME-10", "codes are stored upper case", promotion)
    step("commerce.promotions.create", code=promotion.promotion.code)

    # A member's cart, priced live: 2 mugs and the XL, 10 % off.
    member = (await client.auth.register(tenant=name, email=f"ada@{name}.example.com", password=PASSWORD)).tokens.access_token
    cart_id = (await commerce.carts_create(token=member)).cart.id
    await commerce.carts_items_set(token=member, cart_id=cart_id, variant_id=mug, quantity=2)
    cart = (await commerce.carts_items_set(token=member, cart_id=cart_id, variant_id=xl, quantity=1)).cart
    check(cart.subtotal == eur(4300) and len(cart.items) == 2, "carts.items.set", cart)
    address = Address(name="Ada", line1="1 Main St", city="Berlin", postal_code="10115", country="DE")
    cart = (
        await commerce.carts_update(token=member, cart_id=cart_id, promotion_code="welcome-10", shipping_address=address)
    ).cart
    check(cart.promotion_applies and cart.discount_total == eur(430) and cart.total == eur(3870), "the code applies", cart)
    try:
        await commerce.carts_update(token=member, cart_id=cart_id, promotion_code="NO-SUCH-CODE")
        check(False, "an unknown code is refused")
    except ValidationFailed as refused:
        check("promotion_code" in refused.details["fields"], "on promotion_code", refused.details)
    step("commerce.carts.update", total=cart.total.amount)

    # Checkout with a card, retried with its key: one order, one payment.
    key = f"checkout-{uuid.uuid4()}"
    card = PaymentMethod(type="card", token="tok_visa")
    first = await commerce.carts_checkout(token=member, cart_id=cart_id, payment_method=card, idempotency_key=key)
    order = first.order
    check(
        order.cart_id == cart_id and order.total == eur(3870) and order.discount_total == eur(430)
        and order.promotion_code == "WELCOME-10" and order.status == OrderStatus.PENDING_PAYMENT,
        "carts.checkout", first,
    )
    payment = first.payment
    check(payment is not None and payment.status == PaymentStatus.AUTHORIZED and payment.amount == eur(3870), "authorized", first)
    retried = await commerce.carts_checkout(token=member, cart_id=cart_id, payment_method=card, idempotency_key=key)
    check(retried.order == order and retried.payment == payment, "a retried checkout is the same checkout", retried)
    closed = await commerce.carts_get(token=member, id=cart_id)
    check(closed.cart.status == CartStatus.CHECKED_OUT, "the cart is closed", closed)
    step("commerce.carts.checkout", number=order.number, total=order.total.amount)

    # Once per customer: the code no longer applies to Ada's next cart.
    next_cart = (await commerce.carts_create(token=member)).cart.id
    await commerce.carts_items_set(token=member, cart_id=next_cart, variant_id=mug, quantity=1)
    try:
        await commerce.carts_update(token=member, cart_id=next_cart, promotion_code="WELCOME-10")
        check(False, "the code is used up for Ada")
    except ValidationFailed:
        pass
    # One mug left: two are refused, nothing taken, the cart still open.
    await commerce.carts_items_set(token=member, cart_id=next_cart, variant_id=mug, quantity=2)
    try:
        await commerce.carts_checkout(token=member, cart_id=next_cart)
        check(False, "insufficient_stock")
    except InsufficientStock as short:
        short_line = {"product_id": str(mug), "variant_id": str(mug), "requested": 2, "available": 1}
        check(short.details["items"] == [short_line], "its items", short.details)
    still = await commerce.carts_get(token=member, id=next_cart)
    check(still.cart.status == CartStatus.OPEN, "the cart stays open", still)
    try:
        await commerce.carts_checkout(token=member, cart_id=cart_id)
        check(False, "a closed cart")
    except InvalidState as state:
        check(state.details["state"] == "checked_out", "its state", state.details)
    step("commerce.carts.checkout refused", reasons=["insufficient_stock", "checked_out"])

    order_id = order.id
    assert payment is not None

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
        await client.commerce.payments_refund(token=owner, payment_id=payment.id, amount=eur(3371))
        check(False, "no refund beyond the capture")
    except ValidationFailed:
        pass
    rest = await client.commerce.payments_refund(token=owner, payment_id=payment.id)
    check(rest.payment.status == PaymentStatus.REFUNDED and rest.payment.refunded_amount == eur(3870), "the rest", rest)
    refunded = await client.commerce.orders_get(token=owner, id=order_id)
    check(refunded.order.status == OrderStatus.REFUNDED, "the order is refunded", refunded)
    step("commerce.payments.refund")


if __name__ == "__main__":
    asyncio.run(run(flow))
