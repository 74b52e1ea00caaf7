# flexledger application image: the API (`flexledger serve`) and the workers (`flexledger worker`,
# `python -m infra.worker --relay`) run from it; docker-compose.yml picks the command.
# Installs the package from pyproject.toml with the exact versions of requirements.lock.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY domain ./domain
COPY commands ./commands
COPY projections ./projections
COPY streams ./streams
COPY api ./api
COPY infra ./infra
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install -c requirements.lock . \
 && /opt/venv/bin/pip check

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 flexledger \
 && mkdir /data && chown flexledger:flexledger /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    FLEXLEDGER_HOME=/data
USER flexledger
WORKDIR /data
EXPOSE 8000
CMD ["flexledger", "serve", "--host", "0.0.0.0", "--port", "8000"]
