# The gateway in a container. Not built in CI (no container engine on the build machines).
# bubblewrap needs to create namespaces inside the container: run it with
#   docker run --security-opt seccomp=unconfined --cap-add SYS_ADMIN -p 2525:2525 -v gw:/var/lib/gateway IMAGE
# (or on a host that allows unprivileged user namespaces, without the capability).
FROM debian:bookworm-slim
ENV DEBIAN_FRONTEND=noninteractive PYTHON=python3
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/gateway
COPY pyproject.toml README.md LICENSE ./
COPY scripts ./scripts
COPY converters ./converters
COPY gateway ./gateway
RUN bash scripts/setup.sh && rm -rf /var/lib/apt/lists/*
EXPOSE 2525 8080
VOLUME /var/lib/gateway
ENTRYPOINT ["/opt/gateway/.venv/bin/gateway"]
# mount the configuration ([serve] recipient_domains, relay_networks, lgwan_smtp ...) at /etc/gateway/
CMD ["serve", "--config", "/etc/gateway/gateway.toml", "--data-dir", "/var/lib/gateway", \
     "--smtp-listen", "0.0.0.0:2525", "--http-listen", "0.0.0.0:8080"]
