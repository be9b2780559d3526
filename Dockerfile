# syntax=docker/dockerfile:1
#
# chatlake as one static binary on a distroless static base: CA certificates (for the
# Technowiz API and GCS over TLS), tzdata and a "nonroot" user (65532), no shell, no libc.
#
#   docker build -t chatlake:$(git describe --always --dirty) .
#   docker run --rm chatlake:TAG version
#
# cmd/chatlake/chroot_test.go runs the same build (CGO_ENABLED=0 go build -trimpath
# -ldflags=-s) in a root holding only the binary, the CA bundle and /tmp, as this image does.

# The toolchain of go.mod's go directive.
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first, so that a change of the code reuses the downloaded modules.
COPY go.mod go.sum ./
RUN go mod download
# The whole context, .git included: -buildvcs=true stamps the commit and the dirty flag that
# `chatlake version` and every run record report (see .dockerignore).
COPY . .
# CGO_ENABLED=0: no libc, so the binary runs on distroless/static (or scratch). -trimpath: no
# build paths in the binary; -ldflags=-s: no symbol table.
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags=-s -buildvcs=true \
      -o /out/chatlake ./cmd/chatlake \
 && /out/chatlake version

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/chatlake /chatlake
# distroless's nonroot user; Kubernetes manifests also set runAsNonRoot and runAsUser 65532.
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["/chatlake"]
CMD ["help"]
