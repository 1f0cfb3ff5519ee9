# The proxy image: `docker build -t llm-rollout .`
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY proxy ./proxy
COPY rollout ./rollout
COPY config ./config
RUN pip install --no-cache-dir . && useradd --system --uid 10001 rollout
USER 10001
EXPOSE 8080
ENTRYPOINT ["rollout"]
CMD ["serve", "--config", "/etc/llm-rollout/config.yaml"]
