# Log in as acme's owner: the token is kept for the calls after it.
olympus call auth.login '{"tenant": "acme", "email": "ada@acme.example", "password": "velvet-orbit-cactus-harmonica"}'
olympus call auth.me
# A product and an order of it. A repeat with the same Idempotency-Key (kept 24 hours)
# gets the first reply again instead of making a second product or order.
PRODUCT=$(olympus call commerce.products.create --idempotency-key mug-1 --field product.id \
  '{"sku": "MUG-1", "name": "Mug", "price": {"amount": 1299, "currency": "EUR"}, "stock": 100}')
olympus call commerce.orders.create --idempotency-key order-1 \
  '{"items": [{"product_id": "'"$PRODUCT"'", "quantity": 2}]}'
olympus call commerce.orders.list '{"limit": 5}'
