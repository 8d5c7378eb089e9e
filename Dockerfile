# syntax=docker/dockerfile:1
# zoho-proxy: a distroless, non-root image that runs with a read-only root filesystem.
#
# Build: docker build -t zoho-proxy .
# Run:   docker run --read-only --tmpfs /var/cache/zoho-proxy \
#          -p 127.0.0.1:8080:8080 -e ZOHO_CLIENT_SECRET -e ZOHO_REFRESH_TOKEN \
#          -v "$PWD/deploy/docker/proxy.toml:/etc/zoho-proxy/proxy.toml:ro" zoho-proxy
#
# deploy/docker/proxy.toml is the example config for containers: the proxy
# listens on 0.0.0.0 (allow_remote = true) so the port can be published (keep
# it private to the app that uses it), admin on 127.0.0.1:9901 for the
# HEALTHCHECK below. Kubernetes probes need admin on 0.0.0.0 (deploy/kubernetes).

# The toolchain the crate is built and tested with (dependencies need at least 1.88).
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them. The manifest names
# the fake Zoho example, so a placeholder stands in for it too.
# --no-default-features: no `demo` command, fake Zoho or test CA in the image.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src examples && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cp src/main.rs examples/fake_zoho.rs \
    && cargo build --release --locked --no-default-features \
    && rm -rf src examples
COPY src ./src
COPY examples ./examples
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --no-default-features \
    && mkdir -p /out/cache

# distroless/cc: glibc, libgcc and CA certificates; no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="zoho-proxy" \
      org.opencontainers.image.description="Authenticating reverse proxy in front of Zoho's APIs: scope-checked allowlist, self-refreshing OAuth token, streaming." \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      org.opencontainers.image.version="0.1.0"
COPY --from=build /src/target/release/zoho-proxy /usr/local/bin/zoho-proxy
# Where `token_cache` may point. With --read-only, mount a tmpfs or a volume
# here; a new named volume takes this directory's owner (nonroot).
COPY --from=build --chown=65532:65532 /out/cache /var/cache/zoho-proxy
USER 65532:65532
EXPOSE 8080 9901
ENV ZOHO_PROXY_CONFIG=/etc/zoho-proxy/proxy.toml
# Exec form: there is no shell. /readyz is 200 once a valid Zoho token is held.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["/usr/local/bin/zoho-proxy", "probe", "http://127.0.0.1:9901/readyz"]
ENTRYPOINT ["/usr/local/bin/zoho-proxy"]
CMD ["run"]
