# The proxy image: `docker build -t llm-rollout .`
# Two stages: the first builds the wheel (the demo config and prompt, linked into the package
# from config/, become files in it), the second installs only that wheel and its dependencies.
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY proxy ./proxy
COPY rollout ./rollout
COPY config ./config
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11.11-slim-bookworm
COPY --from=build /wheels /wheels
# The embedded store's default data directory (store.data_dir: ./data) belongs to the user the
# proxy runs as: a rollout's state survives a restart when /app/data is a volume.
RUN pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && useradd --system --uid 10001 rollout \
    && mkdir -p /app/data \
    && chown 10001 /app/data
WORKDIR /app
COPY config ./config
USER 10001
# 8080: traffic; 9090: admin (/metrics, /healthz, /readyz, the rollouts API) — bind it to
# 0.0.0.0 in the config (admin.host) for Prometheus to reach it.
EXPOSE 8080 9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
ENTRYPOINT ["rollout"]
CMD ["serve", "--config", "/etc/llm-rollout/config.yaml"]
