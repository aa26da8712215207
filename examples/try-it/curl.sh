# The same account over HTTP, through the gateway.
GATEWAY=${GATEWAY:-127.0.0.1:8080}
TOKEN=$(curl -sf "$GATEWAY/v1/auth/login" --json \
  '{"tenant": "acme", "email": "ada@acme.example", "password": "velvet-orbit-cactus-harmonica"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["tokens"]["access_token"])')
curl -si "$GATEWAY/v1/auth/me" -H "Authorization: Bearer $TOKEN" --json '{}'
echo
curl -s "$GATEWAY/v1/commerce/products.list" -H "Authorization: Bearer $TOKEN" --json '{"q": "MUG"}'
echo
