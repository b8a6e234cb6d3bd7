# syntax=docker/dockerfile:1
# One image for the three entry points of vault-storage-injector: vsi-webhook (the admission
# webhook), vsi-injector (the init container the webhook injects) and vsi-certs (the certificate
# bootstrap Job). The manifests pick one with `command:`; there is no ENTRYPOINT.
#
# The base is pinned by exact tag. Add the digest (python:3.11.14-slim-bookworm@sha256:...) in the
# pipeline that builds releases: it was not pinned here because a digest cannot be looked up or
# verified offline, and an unverified digest is worse than none.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY webhook ./webhook
COPY injector ./injector
COPY certs ./certs
COPY vsi_common ./vsi_common

# Build the wheel, then install it with its dependencies (binary wheels from PyPI, so no compiler
# is needed) into a venv that the final stage copies whole.
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && python -m venv /opt/vault-storage-injector \
    && /opt/vault-storage-injector/bin/pip install --no-cache-dir /wheels/*.whl \
    && /opt/vault-storage-injector/bin/pip uninstall --yes pip

FROM ${PYTHON_IMAGE}

ARG VERSION=0.1.0
ARG REVISION=unknown
# cryptsetup checks a key against the volume's LUKS header (vsi-injector --verify-luks). Pinned
# to the bookworm version; override with --build-arg after a Debian point release.
ARG CRYPTSETUP_VERSION=2:2.6.1-4~deb12u2

LABEL org.opencontainers.image.title="vault-storage-injector" \
      org.opencontainers.image.description="Hands volume-encryption keys from HashiCorp Vault or OpenBao to Portworx and Rook-Ceph on Kubernetes" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/vault-storage-injector/vault-storage-injector" \
      org.opencontainers.image.url="https://github.com/vault-storage-injector/vault-storage-injector" \
      org.opencontainers.image.documentation="https://github.com/vault-storage-injector/vault-storage-injector/blob/main/docs/install.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11.14-slim-bookworm"

RUN apt-get update \
    && apt-get install -y --no-install-recommends "cryptsetup-bin=${CRYPTSETUP_VERSION}" \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 65532 nonroot \
    && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin nonroot

COPY --from=builder /opt/vault-storage-injector /opt/vault-storage-injector

# The pods run with a read-only root filesystem: no .pyc writes at run time (the wheel install
# compiled them already), unbuffered logs.
ENV PATH="/opt/vault-storage-injector/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# Fail the build, not the rollout, if an entry point or cryptsetup is missing.
RUN vsi-webhook --help >/dev/null \
    && vsi-injector --help >/dev/null \
    && vsi-certs --help >/dev/null \
    && cryptsetup --version

# Numeric, so Kubernetes can check runAsNonRoot without a passwd lookup.
USER 65532:65532
WORKDIR /tmp

# No HEALTHCHECK: Kubernetes ignores it; the Deployment's readiness (/readyz) and liveness
# (/healthz) probes do that job, and the Jobs and the init container run to completion.
CMD ["vsi-webhook", "--help"]
