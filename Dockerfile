# syntax=docker/dockerfile:1
# devsim's image: `docker build -t devsim .` here, or `image/build.sh` where no Docker daemon
# runs (it builds the same `runtime` stage with buildah, from a binary and a base it made on
# the machine itself).

# Build: librdkafka, zstd and zlib are compiled from source and linked statically.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto proto
COPY src src
COPY benches benches
RUN cargo build --release --locked --bin devsim \
 && strip target/release/devsim

# The runtime base, assembled as distroless assembles its own: Debian's packages unpacked, the
# nonroot user 65532, no shell and no package manager (see image/rootfs.sh).
FROM debian:bookworm-slim AS rootfs
COPY image/rootfs.sh /usr/local/bin/devsim-rootfs
RUN /usr/local/bin/devsim-rootfs /rootfs

# The image.
FROM scratch AS runtime
LABEL org.opencontainers.image.title="devsim" \
      org.opencontainers.image.description="Simulated industrial IoT devices streaming into Apache Kafka" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=rootfs /rootfs/ /
COPY --from=build /src/target/release/devsim /usr/local/bin/devsim
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/devsim"]
