# Dumpin: the bot, the scheduler and the CLI in one image (base install: no TensorFlow).
# Build: docker build -t dumpin .    Run: see docker-compose.yml and docs/operations.md.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/dumpin
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY ml ./ml
COPY db ./db
COPY scheduler ./scheduler
COPY locales ./locales
RUN /opt/dumpin/bin/pip install . \
    && cd /tmp && /opt/dumpin/bin/python -c "from bot.settings import Settings; from ml.classifier import Classifier; Classifier.load(Settings(_env_file=None).shipped_model_dir)"

FROM ${PYTHON_IMAGE}
# MPLCONFIGDIR: matplotlib's font cache (the /stats chart) stays in the container, out of /data
ENV PATH=/opt/dumpin/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    DUMPIN_DATA_DIR=/data
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin dumpin \
    && mkdir -p /data/uploads /data/models /data/backups \
    && chown -R dumpin:dumpin /data
COPY --from=build /opt/dumpin /opt/dumpin
USER dumpin
WORKDIR /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
CMD ["dumpin", "bot"]
