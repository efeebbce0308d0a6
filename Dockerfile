# The one Parley image: compose.yaml runs it as `web` (uvicorn) and as `worker` (celery).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Both processes run unprivileged; compose adds the Docker socket's group to the worker only.
RUN groupadd --gid 10001 parley \
    && useradd --uid 10001 --gid parley --create-home --shell /usr/sbin/nologin parley

WORKDIR /app

# Requirements before the source, so a code change reuses the installed-packages layer.
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .
# The code stays root-owned and read-only at run time, so compile it now rather than on every
# start. collectstatic (at start) and embedded-mode data are the only writes.
RUN python -m compileall -q studio workers \
    && mkdir -p staticfiles var && chown parley:parley staticfiles var

USER parley
EXPOSE 8000
CMD ["uvicorn", "studio.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
