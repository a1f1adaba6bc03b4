# syntax=docker/dockerfile:1
# semaphored: the daemon and the tools its jobs run (ansible-core,
# OpenTofu, git, ssh, bash, python3), as a non-root user, state in /data.
#
# Build: docker build --build-arg VERSION=$(git describe --tags --always) \
#          --build-arg COMMIT=$(git rev-parse HEAD) -t semaphored .
# Run:   docker run -d --name semaphored -p 8080:8080 -v semaphored-data:/data \
#          --stop-timeout 90 --env-file semaphored.env semaphored \
#          serve --listen :8080 --config https://github.com/acme/semaphored-config.git
#        (without --config it serves the bundled quickstart)
# Every flag also reads its environment variable (--config <-> SEMAPHORED_CONFIG).
# --stop-timeout: docker's default of 10s is shorter than the daemon's
# drain on SIGTERM (running tasks finish first); give it the same time as
# TimeoutStopSec in examples/systemd/semaphored.service.

ARG GO_VERSION=1.26
ARG DEBIAN_VERSION=bookworm
ARG TOFU_VERSION=v1.12.6

# The semaphored binary: static (no cgo), reproducible paths, version and
# commit stamped in (`semaphored version`).
FROM golang:${GO_VERSION}-${DEBIAN_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath \
      -ldflags="-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/semaphored ./cmd/semaphored \
 && /out/semaphored version

# OpenTofu, built from its Go module (no binary download to trust).
FROM golang:${GO_VERSION}-${DEBIAN_VERSION} AS tofu
ARG TOFU_VERSION
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    dir=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "github.com/opentofu/opentofu@${TOFU_VERSION}" \
          | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') \
 && test -n "$dir" \
 && cd "$dir" && CGO_ENABLED=0 go build -trimpath \
      -ldflags="-s -w -X github.com/opentofu/opentofu/version.dev=no" -o /out/tofu ./cmd/tofu \
 && /out/tofu version

# The runtime: Debian slim with the job tools, tini as PID 1 (signals,
# zombies), a non-root user with a fixed uid for volume permissions.
FROM debian:${DEBIAN_VERSION}-slim
ARG VERSION=dev
ARG COMMIT=unknown
ARG CREATED
LABEL org.opencontainers.image.title="semaphored" \
      org.opencontainers.image.description="Headless GitOps job daemon for Ansible, OpenTofu, Terraform, Bash and Python" \
      org.opencontainers.image.source="https://github.com/semaphored/semaphored" \
      org.opencontainers.image.documentation="https://github.com/semaphored/semaphored#readme" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.created="${CREATED}"
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ansible-core bash ca-certificates git openssh-client python3 tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 semaphored \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/semaphored --create-home \
      --shell /usr/sbin/nologin semaphored \
 && mkdir -p /data \
 && chown 10001:10001 /data \
 && chmod 0700 /data
COPY --from=tofu /out/tofu /usr/local/bin/tofu
COPY --from=build /out/semaphored /usr/local/bin/semaphored
ENV SEMAPHORED_DATA=/data \
    SEMAPHORED_LISTEN=:8080 \
    HOME=/home/semaphored
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/semaphored", "healthcheck"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/semaphored"]
CMD ["serve", "--listen", ":8080"]
