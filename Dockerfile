# syntax=docker/dockerfile:1
# Joint Buy application image: one image, three roles (chosen by the command):
#   jointbuy migrate                             apply the SQL migrations (reads DATABASE_URL)
#   jointbuy worker                              run the Temporal worker
#   jointbuy api --host 0.0.0.0 --port 8000      run the FastAPI app under uvicorn (the default)
# Build: docker build -t jointbuy .       (docker-compose.yml builds it for you)

ARG PYTHON_IMAGE=python:3.11-slim

# ---- build: a virtualenv with the project installed from pyproject.toml -------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first, read from pyproject.toml, so that editing the source does not reinstall them.
COPY pyproject.toml README.md ./
RUN --mount=type=cache,target=/root/.cache/pip \
    python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

# Then the source, and the project itself (SQL migrations and reference data ship as package data).
COPY core/ core/
COPY procurement/ procurement/
COPY messages/ messages/
COPY workflows/ workflows/
COPY activities/ activities/
COPY api/ api/
COPY db/ db/
COPY jointbuy/ jointbuy/
COPY worker.py ./
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install . \
    && jointbuy --help > /dev/null

# ---- runtime: the virtualenv only, run as an unprivileged user ----------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="jointbuy" \
      org.opencontainers.image.description="Joint Buy: collective-buying workflow engine for UK councils (Temporal + PostgreSQL + FastAPI)" \
      org.opencontainers.image.licenses="MIT"

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LOG_FORMAT=json

RUN groupadd --system --gid 10001 jointbuy \
    && useradd --system --uid 10001 --gid jointbuy --home-dir /app --no-create-home jointbuy \
    && mkdir /app && chown jointbuy:jointbuy /app
COPY --from=build /opt/venv /opt/venv

WORKDIR /app
USER 10001:10001
EXPOSE 8000

ENTRYPOINT ["jointbuy"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
