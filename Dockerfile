# The gateway in a container: runtime packages only (scripts/setup.sh --runtime: no test tools,
# no browser, no database server). Built and run with buildah/podman (Debian 12's); Docker builds
# the same file. `podman build` needs --format docker to keep the HEALTHCHECK (OCI images drop it).
#
# The sandbox (bubblewrap) makes namespaces inside the container. Two ways to run it:
#
# 1. As the image's user `gateway` (uid 10001, the default; no added capability): bwrap makes
#    its own user namespace, so every job runs under that one uid (isolated by namespaces,
#    seccomp and limits, but sharing the uid's process count). Needs a host that allows user
#    namespaces, a fresh /proc for the sandbox (systempaths=unconfined: with /proc's masked paths
#    the kernel refuses it - "bwrap: Can't mount proc on /newroot/proc: Operation not permitted"),
#    and on Docker seccomp=unconfined (its default profile refuses unshare(CLONE_NEWUSER) without
#    CAP_SYS_ADMIN; podman's allows it). A bind-mounted data directory must belong to uid 10001.
#   docker build -t lgwan-gateway .
#   docker run -d --name gateway --security-opt seccomp=unconfined --security-opt systempaths=unconfined \
#     --stop-timeout 360 -p 2525:2525 -p 8080:8080 -v "$PWD/gateway.toml:/etc/gateway/gateway.toml:ro" \
#     -v gateway-data:/var/lib/gateway lgwan-gateway
#
# 2. As root (--user root): every job gets an unused uid of its own ([sandbox] uid_base), as
#    the systemd unit does. bwrap then makes its namespaces without a user namespace, which needs
#    CAP_SYS_ADMIN, and CAP_NET_ADMIN to bring up the loopback of the job's empty network
#    ("bwrap: loopback: Failed RTM_NEWADDR" without it), and seccomp=unconfined on Docker:
#   docker run -d --name gateway --user root --security-opt seccomp=unconfined \
#     --cap-add SYS_ADMIN --cap-add NET_ADMIN --stop-timeout 360 -p 2525:2525 -p 8080:8080 \
#     -v "$PWD/gateway.toml:/etc/gateway/gateway.toml:ro" -v gateway-data:/var/lib/gateway lgwan-gateway
#
# Either way, on a host with AppArmor (Ubuntu, Debian) also --security-opt apparmor=unconfined: the
# docker-default profile denies mount (not tried here: the test host had no AppArmor). Keep a volume
# with one way: what root wrote there is not uid 10001's. Tried both ways with podman 4.3:
# bash scripts/container-smoke.sh [--root]. Without what the sandbox needs, `gateway serve` ends
# (exit 2) with bubblewrap's own line instead of saying ready.
# Stop: SIGTERM to the service, which lets every worker finish the job in hand (a document may take
# [sandbox] timeout_seconds), so give it time: --stop-timeout 360, as the systemd unit's TimeoutStopSec.
# deploy/compose.yaml is way 1 for `docker compose up -d` (way 2 in its comments).
FROM debian:bookworm-slim
ENV DEBIAN_FRONTEND=noninteractive PYTHON=python3
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates tini \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/gateway
COPY pyproject.toml README.md LICENSE ./
COPY scripts ./scripts
COPY converters ./converters
COPY gateway ./gateway
RUN bash scripts/setup.sh --runtime && rm -rf /var/lib/apt/lists/* /root/.cache
# the service's user; the data directory is its alone (a new named volume takes owner and mode from here)
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --home-dir /var/lib/gateway --no-create-home \
        --shell /usr/sbin/nologin gateway \
    && install -d -m 0700 -o gateway -g gateway /var/lib/gateway
USER gateway
EXPOSE 2525 8080
VOLUME /var/lib/gateway
# ready = every listener bound, the audit log writable and the antivirus engines (if any) fresh
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/opt/gateway/.venv/bin/python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/readyz', timeout=4)"]
# tini as PID 1: it passes SIGTERM on and reaps what a worker that died leaves behind (the gateway
# itself waits only for the children it started)
ENTRYPOINT ["/usr/bin/tini", "--", "/opt/gateway/.venv/bin/gateway"]
# the configuration ([serve] recipient_domains, relay_networks, lgwan_smtp ...) is mounted at /etc/gateway/
CMD ["serve", "--config", "/etc/gateway/gateway.toml", "--data-dir", "/var/lib/gateway", \
     "--smtp-listen", "0.0.0.0:2525", "--http-listen", "0.0.0.0:8080"]
