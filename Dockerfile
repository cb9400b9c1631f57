# The optin image: server, CLI and gate agent (docker-compose.yml runs every service from it).
# dlib comes prebuilt: pyproject's [tool.uv] override drops the source package face_recognition
# asks for and the dlib-bin wheel provides the module, so nothing is compiled here.

FROM python:3.11-slim-bookworm AS build
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
# Dependencies first (cached while only the code changes). --no-build-package dlib: should the
# override ever go, this fails at once instead of compiling dlib for ten minutes.
RUN uv sync --locked --no-dev --no-install-project --no-build-package dlib
COPY optin ./optin
COPY enrollment_app ./enrollment_app
COPY gate_agent ./gate_agent
RUN uv sync --locked --no-dev --no-build-package dlib

FROM python:3.11-slim-bookworm
# postgresql-client-15: pg_dump and pg_restore for `optin backup` (the compose database is 15).
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 libstdc++6 zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/optin --no-create-home \
      --shell /usr/sbin/nologin optin \
 && install -d -o optin -g optin -m 0700 /var/lib/optin /var/lib/optin-gate /var/lib/optin-gate-token
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The project is installed editable from /app: the code, and migrations/ beside it.
COPY --from=build /app /app
COPY migrations ./migrations
COPY deploy/provision-gate.sh ./deploy/provision-gate.sh

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OPTIN_DATA_DIR=/var/lib/optin \
    OPTIN_HOST=0.0.0.0 \
    OPTIN_PORT=8000
USER optin
EXPOSE 8000
CMD ["optin", "serve"]
