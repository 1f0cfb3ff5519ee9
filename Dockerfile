# The proxy image: `docker build -t llm-rollout .`
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY proxy ./proxy
COPY rollout ./rollout
COPY config ./config
# The embedded store's default data directory (store.data_dir: ./data) belongs to the user the
# proxy runs as: a rollout's state survives a restart when /app/data is a volume.
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 rollout \
    && mkdir /app/data && chown 10001 /app/data
USER 10001
# 8080: traffic; 9090: admin (/metrics, /healthz, /readyz, the rollouts API) — bind it to
# 0.0.0.0 in the config (admin.host) for Prometheus to reach it.
EXPOSE 8080 9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
ENTRYPOINT ["rollout"]
CMD ["serve", "--config", "/etc/llm-rollout/config.yaml"]
