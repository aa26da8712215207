// For teams with a Go module proxy: `go mod tidy && go build .` in this
// directory. Olympus's own machines have none, and build in GOPATH mode
// with Debian's packages of the same libraries (see README.md), which
// ignores this file.
module olympus/gateway

go 1.19

require (
	github.com/nats-io/nats.go v1.22.1
	github.com/vmihailenco/msgpack/v5 v5.3.5
)
