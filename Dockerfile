# syntax=docker/dockerfile:1
# credbroker container image: lighttpd spawning the seven handlers, as infra/lighttpd/credbroker.conf
# describes. Build: `docker build -t credbroker .`; run and configure: docs/deploy/docker.md.
# tests/container checks this file (lint rules, the scripts it runs, the runtime package list).

# Build stage: the same script and make target as a developer's `make build`, narrowed to the
# compiler and -dev packages (no Node, no test servers), to the handler executables and
# credbroker-admin, and to a CMake configure that leaves tests/ out (its test-only tools are not
# installed here).
FROM debian:bookworm AS build
WORKDIR /src
# The package layer first, so source edits do not re-run apt.
COPY scripts/install-deps scripts/install-deps
RUN scripts/install-deps --build-only && rm -rf /var/lib/apt/lists/*
COPY . .
RUN make build DEPS_FLAGS=--build-only TOOLS= CMAKE_ARGS=-DCREDBROKER_TESTS=OFF \
      BUILD_DIR=/src/build-image

# Runtime stage: lighttpd, the handlers' shared libraries and tini; no compiler, no shell tools
# beyond the base image's.
FROM debian:bookworm-slim AS runtime
COPY scripts/install-deps /tmp/install-deps
RUN /tmp/install-deps --runtime-only && rm -rf /var/lib/apt/lists/* /tmp/install-deps
# A fixed numeric uid/gid, so `runAsNonRoot` and volume ownership can be checked from outside.
RUN groupadd --system --gid 10001 credbroker \
 && useradd --system --uid 10001 --gid credbroker --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin credbroker \
 && install -d -o credbroker -g credbroker -m 0750 /run/credbroker /run/credbroker/www \
 && install -d -m 0755 /etc/credbroker
COPY --from=build /src/build-image/bin/credbroker-list /src/build-image/bin/credbroker-delete \
     /src/build-image/bin/credbroker-connect /src/build-image/bin/credbroker-callback \
     /src/build-image/bin/credbroker-health /src/build-image/bin/credbroker-resolve \
     /src/build-image/bin/credbroker-authorize /src/build-image/bin/credbroker-admin \
     /usr/local/bin/
# The whole directory: credbroker.conf loads files next to it (header-names.lua).
COPY infra/lighttpd/ /etc/lighttpd/credbroker/
COPY infra/docker/entrypoint infra/docker/healthcheck /usr/local/libexec/credbroker/
# The web page the callback sends users back to, served at /ui/ (CREDBROKER_UI_DIR).
COPY ui/ /usr/local/share/credbroker/ui/

# What infra/lighttpd/credbroker.conf reads. CREDBROKER_KEYS (or CREDBROKER_KEYS_FILE) and the
# config file come from the operator at run time, never from the image. An empty errorlog makes
# lighttpd write to the stderr it was given: as uid 10001 it cannot reopen /dev/stderr, a pipe
# owned by root (found by make container-check). CREDBROKER_INTERNAL_ALLOW: who may reach the
# gateway's internal route; loopback, i.e. nobody outside the container, until the operator names
# the gateway's network (docs/deploy/docker.md).
ENV CREDBROKER_BIND=0.0.0.0 \
    CREDBROKER_PORT=8080 \
    CREDBROKER_BIN_DIR=/usr/local/bin \
    CREDBROKER_RUN_DIR=/run/credbroker \
    CREDBROKER_ERRORLOG= \
    CREDBROKER_PROCS=2 \
    CREDBROKER_INTERNAL_ALLOW="127.0.0.1 ::1" \
    CREDBROKER_CONFIG=/etc/credbroker/config.json \
    CREDBROKER_UI_DIR=/usr/local/share/credbroker/ui

USER 10001:10001
EXPOSE 8080
# GET /api/v1/healthz through lighttpd (bash's /dev/tcp: no curl in the image); in the
# one-handler mode, credbroker-health as CGI (infra/docker/healthcheck). No --start-period:
# lighttpd serves within a second, and dockerfilelint 1.8.0 misreads that option.
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD ["/usr/local/libexec/credbroker/healthcheck"]
# tini as PID 1 forwards SIGTERM and reaps, in both modes of the entrypoint.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/libexec/credbroker/entrypoint"]
CMD ["serve"]
