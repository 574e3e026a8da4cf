# eci-operator image: `docker build -t eci-operator:dev .` (see README "Running on kind").
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip install . && rm -rf /src \
    && groupadd --gid 10001 eci && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin eci

WORKDIR /
USER 10001:10001
EXPOSE 9443 8081 8080
ENTRYPOINT ["eci-operator", "run"]
