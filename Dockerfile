# The olympus binary in a small image. Used by docker-compose.yml.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p olympus

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/olympus /usr/local/bin/olympus
USER 65534
ENTRYPOINT ["/usr/local/bin/olympus"]
