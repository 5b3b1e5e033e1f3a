# The coalmine image: the controller (default command) and the whole CLI.
#
#   docker build -t ghcr.io/coalmine/coalmine:0.1.0 .
#
# Two stages: the first installs coalmine from this source tree into a virtual
# environment (every dependency has a binary wheel, so no compiler is needed); the
# second copies only that environment onto a fresh python:3.11-slim, so no build tool,
# pip cache or source file is left in the image. It runs as UID/GID 10001, the user the
# manifests under deploy/ ask for (numeric, so Kubernetes can check runAsNonRoot).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/coalmine \
    && /opt/coalmine/bin/pip install . \
    && /opt/coalmine/bin/coalmine --version

FROM python:3.11-slim
LABEL org.opencontainers.image.title="coalmine" \
      org.opencontainers.image.description="Canary deployments that decide for themselves" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/coalmine/bin:$PATH \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 coalmine \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /tmp --shell /usr/sbin/nologin coalmine
COPY --from=build /opt/coalmine /opt/coalmine
USER 10001:10001
# 8080: Prometheus metrics (/metrics); 8081: health (/healthz).
EXPOSE 8080 8081
ENTRYPOINT ["coalmine"]
CMD ["controller"]
