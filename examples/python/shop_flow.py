"""Olympus from Python: a shop, from catalog to refund.

tenant.create -> products.create -> orders.create (with an Idempotency-Key,
retried: one order) -> payments.authorize -> payments.capture (retried with
its key: charged once) -> payments.refund (part, then the rest: the order is
refunded); in MessagePack and in JSON, written only against the contract's
field names (Money is {amount in minor units, currency}):

    pip install -r examples/python/requirements.txt
    NATS_URL=nats://127.0.0.1:4222 OLYMPUS_SUBJECT_PREFIX=olympus \\
        python3 examples/python/shop_flow.py

Prints one JSON line per step; exits non-zero at the first reply that breaks
the contract. The end-to-end tests run it against `olympus serve`.
"""

import asyncio
import uuid

from identity_flow import PASSWORD, call, check, run_flows, step


def eur(amount):
    return {"amount": amount, "currency": "EUR"}


async def flow(nc, codec):
    slug = f"pyshop-{codec.name}-{uuid.uuid4().hex[:8]}"
    status, body, _ = await call(
        nc, codec, "tenant.v1.create",
        {"slug": slug, "name": "Python Shop", "owner": {"email": f"owner@{slug}.example.com", "password": PASSWORD}},
    )
    check(status == 200, "tenant.create", body)
    owner = body["tokens"]["access_token"]

    status, body, _ = await call(
        nc, codec, "commerce.v1.products.create",
        {"sku": "MUG-1", "name": "Blue Mug", "price": eur(1250), "stock": 3}, token=owner,
    )
    check(status == 200 and body["product"]["price"] == eur(1250) and body["product"]["stock"] == 3, "products.create", body)
    product_id = body["product"]["id"]
    step("commerce.products.create", codec)

    order = {"items": [{"product_id": product_id, "quantity": 2}],
             "shipping_address": {"name": "Ada", "line1": "1 Main St", "city": "Berlin", "postal_code": "10115", "country": "DE"}}
    key = {"Idempotency-Key": f"checkout-{uuid.uuid4()}"}
    status, first, _ = await call(nc, codec, "commerce.v1.orders.create", order, token=owner, headers=key)
    check(status == 200 and first["order"]["total"] == eur(2500) and first["order"]["status"] == "pending_payment", "orders.create", first)
    status, retried, _ = await call(nc, codec, "commerce.v1.orders.create", order, token=owner, headers=key)
    check(status == 200 and retried == first, "a retried order is the same order", retried)
    status, body, _ = await call(nc, codec, "commerce.v1.products.get", {"id": product_id}, token=owner)
    check(status == 200 and body["product"]["stock"] == 1, "stock reserved once", body)
    status, body, _ = await call(nc, codec, "commerce.v1.orders.create", {"items": [{"product_id": product_id, "quantity": 2}]}, token=owner)
    check(status == 409 and body["code"] == "insufficient_stock"
          and body["details"]["items"] == [{"product_id": product_id, "requested": 2, "available": 1}], "insufficient_stock", body)
    order_id = first["order"]["id"]
    step("commerce.orders.create", codec, number=first["order"]["number"])

    status, body, _ = await call(
        nc, codec, "commerce.v1.payments.authorize",
        {"order_id": order_id, "method": {"type": "card", "token": "tok_visa"}}, token=owner,
    )
    check(status == 200 and body["payment"]["status"] == "authorized" and body["payment"]["amount"] == eur(2500), "payments.authorize", body)
    payment_id = body["payment"]["id"]
    step("commerce.payments.authorize", codec)

    key = {"Idempotency-Key": f"capture-{payment_id}"}
    status, first, _ = await call(nc, codec, "commerce.v1.payments.capture", {"payment_id": payment_id}, token=owner, headers=key)
    check(status == 200 and first["payment"]["status"] == "captured", "payments.capture", first)
    status, retried, _ = await call(nc, codec, "commerce.v1.payments.capture", {"payment_id": payment_id}, token=owner, headers=key)
    check(status == 200 and retried == first, "a retried capture is the same capture", retried)
    status, body, _ = await call(nc, codec, "commerce.v1.orders.get", {"id": order_id}, token=owner)
    check(status == 200 and body["order"]["status"] == "paid", "the order is paid", body)
    step("commerce.payments.capture", codec)

    status, body, _ = await call(nc, codec, "commerce.v1.payments.refund", {"payment_id": payment_id, "amount": eur(500)}, token=owner)
    check(status == 200 and body["payment"]["status"] == "partially_refunded" and body["payment"]["refunded_amount"] == eur(500), "a partial refund", body)
    status, body, _ = await call(nc, codec, "commerce.v1.payments.refund", {"payment_id": payment_id, "amount": eur(2001)}, token=owner)
    check(status == 422 and body["code"] == "validation_failed", "no refund beyond the capture", body)
    status, body, _ = await call(nc, codec, "commerce.v1.payments.refund", {"payment_id": payment_id}, token=owner)
    check(status == 200 and body["payment"]["status"] == "refunded" and body["payment"]["refunded_amount"] == eur(2500), "the rest", body)
    status, body, _ = await call(nc, codec, "commerce.v1.orders.get", {"id": order_id}, token=owner)
    check(status == 200 and body["order"]["status"] == "refunded", "the order is refunded", body)
    step("commerce.payments.refund", codec)


async def main():
    await run_flows(flow)


if __name__ == "__main__":
    asyncio.run(main())
