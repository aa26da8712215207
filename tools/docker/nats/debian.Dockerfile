# Debian's nats-server (2.9), a stand-in for nats:2.9-alpine, which the
# tests' testcontainers path starts with `-js` (tools/docker/build-images).
FROM olympus-base:bookworm
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nats-server \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
EXPOSE 4222 8222
ENTRYPOINT ["/usr/sbin/nats-server"]
CMD ["-js"]
