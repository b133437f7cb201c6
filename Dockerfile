# snapproxy: one image for every service.
#
# The service a container runs is its command, e.g.
#   docker run IMAGE serve-service downloads --host 0.0.0.0 --port 8000
#   docker run IMAGE db upgrade
#   docker run IMAGE serve            (all five services in one process)
# docker-compose.yml runs one container per service from this image.

# ---- build: wheels for the project and all of its dependencies -------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY . .
# docs/ is in the context: the wheel installs it under /usr/local/share/doc/snapproxy, which
# devicegw serves rendered at /docs/ (pyproject.toml: tool.setuptools.data-files).
RUN pip wheel --wheel-dir /wheels .

# ---- runtime ----------------------------------------------------------------
FROM python:3.11-slim

# MALLOC_ARENA_MAX: two glibc malloc arenas per process, not one per thread that allocates
# (the downloads service's blob I/O threads kept some 11 MiB in theirs; docs/performance.md).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MALLOC_ARENA_MAX=2 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SNAPPROXY_DATA_DIR=/var/lib/snapproxy \
    SNAPPROXY_PORT=8000 \
    SNAPPROXY_LOG_FORMAT=json

RUN groupadd --system --gid 10001 snapproxy \
 && useradd --system --uid 10001 --gid snapproxy \
        --home-dir /var/lib/snapproxy --no-create-home --shell /usr/sbin/nologin snapproxy

COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links=/wheels snapproxy \
 && rm -rf /wheels

# The data directory and the download cache inside it belong to the service user.
# A fresh named volume mounted on either path copies this ownership. The cache is
# world-readable (0755) so the nginx gateway, which mounts it read-only and runs
# as another user, can serve blobs from it via X-Accel-Redirect.
RUN install -d -o snapproxy -g snapproxy -m 0755 \
        /var/lib/snapproxy /var/lib/snapproxy/cache /app

WORKDIR /app
USER snapproxy:snapproxy

EXPOSE 8000

# python:3.11-slim has no curl: ask /_status/ping (no I/O) with urllib.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/_status/ping' % os.environ.get('SNAPPROXY_PORT', '8000'), timeout=4)"]

ENTRYPOINT ["snap-proxy"]
CMD ["serve-service", "devicegw", "--host", "0.0.0.0", "--port", "8000"]
