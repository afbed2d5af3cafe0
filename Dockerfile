# Build: the same release profile CI uses.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY model ./model
COPY src ./src
RUN cargo build --release --locked --bin smemu

# Run: a small image with the binary and nothing else it does not need.
FROM debian:bookworm-slim
# /data belongs to smemu so that a named volume mounted there (`-v smemu-data:/data`) starts out
# writable by it: Docker copies the directory's owner into a new, empty volume.
RUN useradd --system --uid 10001 --no-create-home smemu \
 && mkdir /data \
 && chown smemu:smemu /data
COPY --from=build /src/target/release/smemu /usr/local/bin/smemu
USER smemu
# Listening on every interface locks the control API (/_smemu/..., /moto-api/reset) until smemu
# gets a token; the AWS API and the health check work without one. smemu says so at start:
#   docker run -p 4566:4566 -e SMEMU_CONTROL_TOKEN smemu     # with the token in your environment
# and clients send it as X-Smemu-Control-Token. SMEMU_CONTROL=open opens it to the network instead.
ENV SMEMU_HOST=0.0.0.0 \
    SMEMU_PORT=4566
EXPOSE 4566
# The health endpoint answers 503 while --data-dir or --seed are loading and 200 once smemu serves.
# The shell form follows SMEMU_PORT when a container sets another port.
HEALTHCHECK --interval=5s --timeout=2s --start-period=2s --retries=3 \
  CMD smemu --probe "http://127.0.0.1:${SMEMU_PORT}/_smemu/health"
STOPSIGNAL SIGTERM
ENTRYPOINT ["smemu"]
