# The gateway in a container: runtime packages only (scripts/setup.sh --runtime: no test tools,
# no browser, no database server). Not built in CI here (no container engine on the build machines).
#
# It runs as root inside the container on purpose: the sandbox gives every job its own unused uid
# ([sandbox] uid_base), which needs root; bubblewrap also needs to create namespaces, so run it
# with seccomp unconfined and CAP_SYS_ADMIN, or on a host that allows unprivileged user
# namespaces (then `--user 1000` works too, with every job under that one uid instead).
#   docker build -t lgwan-gateway .
#   docker run -d --name gateway --security-opt seccomp=unconfined --cap-add SYS_ADMIN \
#     -p 2525:2525 -p 8080:8080 -v "$PWD/gateway.toml:/etc/gateway/gateway.toml:ro" \
#     -v gateway-data:/var/lib/gateway lgwan-gateway
# or deploy/compose.yaml (the same, for `docker compose up -d`).
FROM debian:bookworm-slim
ENV DEBIAN_FRONTEND=noninteractive PYTHON=python3
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/gateway
COPY pyproject.toml README.md LICENSE ./
COPY scripts ./scripts
COPY converters ./converters
COPY gateway ./gateway
RUN bash scripts/setup.sh --runtime && rm -rf /var/lib/apt/lists/* /root/.cache
EXPOSE 2525 8080
VOLUME /var/lib/gateway
# ready = every listener bound, the audit log writable and the antivirus engines (if any) fresh
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/opt/gateway/.venv/bin/python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/readyz', timeout=4)"]
ENTRYPOINT ["/opt/gateway/.venv/bin/gateway"]
# the configuration ([serve] recipient_domains, relay_networks, lgwan_smtp ...) is mounted at /etc/gateway/
CMD ["serve", "--config", "/etc/gateway/gateway.toml", "--data-dir", "/var/lib/gateway", \
     "--smtp-listen", "0.0.0.0:2525", "--http-listen", "0.0.0.0:8080"]
