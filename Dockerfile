# One image for every bec-core service; docker-compose.yml picks the command.
#   docker build -t bec-core .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BEC_STATE_DIR=/var/lib/bec

# Unprivileged user; its home is the services' state directory.
RUN groupadd --system --gid 10001 bec \
 && useradd --system --uid 10001 --gid bec --home-dir /var/lib/bec --create-home --shell /usr/sbin/nologin bec

WORKDIR /opt/bec-core
# README.md is part of the package metadata (README.m[d] copies it when present).
COPY pyproject.toml README.m[d] ./
COPY bec_core ./bec_core
COPY services ./services
# The device server needs ophyd, a runtime dependency of bec-core.
RUN pip install . && rm -rf /opt/bec-core/build

# Default configuration; docker-compose.yml mounts ./config over it.
COPY config /etc/bec

USER bec
WORKDIR /var/lib/bec
CMD ["bec-server", "--help"]
