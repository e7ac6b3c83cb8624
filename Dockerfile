# syntax=docker/dockerfile:1
# Build: the same `cargo build --release --locked` that CI's release check runs.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock clippy.toml ./
COPY .cargo ./.cargo
COPY src ./src
RUN cargo build --release --locked && strip target/release/noetl-gateway

# Runtime: Debian slim with CA certificates only, running as an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin gateway
COPY --from=build /src/target/release/noetl-gateway /usr/local/bin/noetl-gateway
USER 10001:10001
ENV ROUTER_PORT=8090 \
    GATEWAY_INTERNAL_PORT=8091 \
    LOG_FORMAT=json
# 8090: public API (browsers, CLIs). 8091: internal listener (worker callbacks, metrics).
EXPOSE 8090 8091
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/noetl-gateway", "probe"]
ENTRYPOINT ["/usr/local/bin/noetl-gateway"]
CMD ["serve"]
