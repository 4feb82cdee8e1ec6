# One image per function: `docker build --build-arg FUNCTION=auth .`
# Dependencies are compiled in their own cached layer (cargo-chef); the runtime image is
# distroless, non-root, and holds only the binary.
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.73
WORKDIR /app

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
ARG FUNCTION
RUN test -n "${FUNCTION}" || (echo "build with --build-arg FUNCTION=<name>" && false)
COPY --from=planner /app/recipe.json recipe.json
# The build's flags and linker (.cargo/config.toml) before the dependencies, so that the cook
# and the build compile them alike (the start list, scripts/start-symbols.txt, comes with the
# sources: only the final link reads it).
COPY .cargo .cargo
COPY scripts/linker.sh scripts/linker.sh
RUN cargo chef cook --release --recipe-path recipe.json --package "${FUNCTION}"
COPY . .
RUN cargo build --release --package "${FUNCTION}" --bin "${FUNCTION}" \
    && cp "target/release/${FUNCTION}" /function

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /function /function
USER 65532:65532
ENV PORT=8080
EXPOSE 8080
ENTRYPOINT ["/function"]
