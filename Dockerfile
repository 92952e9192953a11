# lifegraph's image: `lifegraph serve` by default; `lifegraph worker` and `lifegraph migrate`
# run from the same image. See the README's "Containers" section.

# The builder installs lifegraph and its dependencies (all wheels) into a virtual
# environment; the runtime stage copies only that environment.
FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY pyproject.toml README.md ./
COPY auth/ auth/
COPY db/ db/
COPY lifegraph/ lifegraph/
COPY migrations/ migrations/
COPY resolvers/ resolvers/
COPY schema/ schema/
COPY storage/ storage/
RUN pip install .


FROM python:3.11-slim

# The wheels carry their own native libraries: the slim base (glibc, libstdc++, zlib)
# is all they need, so no system package is installed.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LIFEGRAPH_HOST=0.0.0.0 \
    LIFEGRAPH_PORT=8000 \
    LIFEGRAPH_DATA_DIR=/data

RUN useradd --system --uid 10001 --user-group --home-dir /app --create-home lifegraph \
    && mkdir /data \
    && chown lifegraph:lifegraph /data

COPY --from=builder /opt/venv /opt/venv

# The OCR models ship inside the rapidocr wheel; loading the engine once here fails the
# build if one is missing or onnxruntime cannot run, instead of the first receipt.
RUN python -c "from storage.ocr.local import LocalOcrEngine; LocalOcrEngine().load()"

USER lifegraph
WORKDIR /app
EXPOSE 8000

# Only the server answers HTTP: compose turns this off for the worker and migrate.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('LIFEGRAPH_PORT', '8000') + '/readyz', timeout=4)"]

ENTRYPOINT ["lifegraph"]
CMD ["serve"]
