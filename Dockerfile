# The optin server image. dlib comes prebuilt (dlib-bin), so nothing compiles here.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH="/opt/venv/bin:$PATH"

RUN pip install --no-cache-dir uv \
 && useradd --system --create-home --home-dir /var/lib/optin optin

WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY optin ./optin
COPY enrollment_app ./enrollment_app
COPY gate_agent ./gate_agent
COPY migrations ./migrations
RUN uv sync --locked --no-dev

USER optin
ENV OPTIN_DATA_DIR=/var/lib/optin \
    OPTIN_HOST=0.0.0.0 \
    OPTIN_PORT=8000
EXPOSE 8000
CMD ["optin", "serve", "--migrate"]
