# syntax=docker/dockerfile:1
# Build: docker build -t zoho-proxy .
# Run:   docker run -p 8080:8080 -v $PWD/proxy.toml:/etc/zoho-proxy/proxy.toml:ro \
#          -e ZOHO_CLIENT_SECRET -e ZOHO_REFRESH_TOKEN zoho-proxy
# In a container, listen on 0.0.0.0 (with allow_remote = true) so the port can
# be published; keep the published port private to the app that uses it.

FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY src ./src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

# distroless/cc: glibc and CA certificates, no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/zoho-proxy /usr/local/bin/zoho-proxy
USER nonroot:nonroot
EXPOSE 8080 9901
ENV ZOHO_PROXY_CONFIG=/etc/zoho-proxy/proxy.toml
ENTRYPOINT ["/usr/local/bin/zoho-proxy"]
CMD ["run"]
