# syntax=docker/dockerfile:1
# Multi-stage build: compile devsim (librdkafka, zstd and zlib are built from source and linked
# statically), then ship only the binary on a minimal, non-root runtime image.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto proto
COPY src src
COPY benches benches
RUN cargo build --release --locked --bin devsim \
 && strip target/release/devsim

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/devsim /usr/local/bin/devsim
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/devsim"]
