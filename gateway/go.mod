// The gateway's module. Its dependencies are vendored (vendor/, from
// Debian's packages of these versions: see vendor-from-debian) and it
// builds offline with the pinned Go (requirements-go.txt):
// `go build -mod=vendor .`
module olympus/gateway

go 1.27

require (
	github.com/golang-jwt/jwt/v4 v4.4.3
	github.com/nats-io/nats.go v1.22.1
	github.com/vmihailenco/msgpack/v5 v5.3.5
)

require (
	github.com/nats-io/nkeys v0.3.0 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	golang.org/x/crypto v0.4.0 // indirect
)
