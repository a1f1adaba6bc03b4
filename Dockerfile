# syntax=docker/dockerfile:1
# semaphored image: the daemon plus the tools its jobs run (ansible-core,
# OpenTofu, bash, python3, ssh client). Build: docker build -t semaphored .
# Run:   docker run -p 8080:8080 -v semaphored:/var/lib/semaphored semaphored
#        (serves the bundled quickstart; pass --config DIR|URL for yours)

ARG GO_VERSION=1.26
ARG TOFU_VERSION=v1.12.6

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath \
      -ldflags="-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/semaphored ./cmd/semaphored

FROM golang:${GO_VERSION}-bookworm AS tofu
ARG TOFU_VERSION
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    dir=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "github.com/opentofu/opentofu@${TOFU_VERSION}" \
          | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') && \
    cd "$dir" && CGO_ENABLED=0 go build -trimpath \
      -ldflags="-s -w -X github.com/opentofu/opentofu/version.dev=no" -o /out/tofu ./cmd/tofu

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ansible-core openssh-client python3 bash ca-certificates git tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /var/lib/semaphored --uid 10001 semaphored
COPY --from=tofu /out/tofu /usr/local/bin/tofu
COPY --from=build /out/semaphored /usr/local/bin/semaphored
USER semaphored
WORKDIR /var/lib/semaphored
ENV SEMAPHORED_DATA=/var/lib/semaphored/data \
    SEMAPHORED_LISTEN=:8080
EXPOSE 8080
VOLUME ["/var/lib/semaphored"]
HEALTHCHECK --interval=30s --timeout=3s CMD ["/usr/bin/env", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ok <&3"]
ENTRYPOINT ["/usr/bin/tini", "--", "semaphored"]
CMD ["serve"]
