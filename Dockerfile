# The fineract-hub worker: Faust agents plus the web server (Hasura actions, /graphql, /health).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HUB_WEB_BIND=0.0.0.0 \
    HUB_WEB_PORT=6066

WORKDIR /app

COPY pyproject.toml README.md* ./
COPY fineract_hub ./fineract_hub
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app hub \
    && chown hub /app

USER hub
EXPOSE 6066

HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=6 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:6066/health', timeout=4)"]

ENTRYPOINT ["python", "-m", "fineract_hub"]
CMD ["worker"]
