# A small non-root image whose default command is the scheduler (`monitor run`); the database lives on /data.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MONITOR_DATABASE_URL=sqlite:////data/monitor.db \
    MONITOR_QUERIES_DIR=/app/queries \
    MONITOR_OVERRIDES_FILE=/data/overrides.toml

WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY migrations ./migrations
COPY queries ./queries
RUN pip install . \
    && useradd --create-home --uid 10001 monitor \
    && mkdir -p /data && chown monitor:monitor /data

USER monitor
VOLUME ["/data"]
WORKDIR /data
CMD ["monitor", "run"]
