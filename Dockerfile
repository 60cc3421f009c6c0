# The Tanba image: one image for every stage (crawler, fingerprint and matcher workers,
# console, and the `tanba` command for operators), selected by the command.
#
#   docker build -t tanba .
#   docker run --rm tanba settings          # every setting and its value
#
# Decoders come from Debian: ffmpeg (audio) and Chromaprint (fpcalc, libchromaprint);
# libgeoip1 and geoip-database serve TANBA_GEOIP=auto (the server_ip signal); chromium
# renders the pages of targets marked `render: true` (tanba/core/browser.py drives
# /usr/bin/chromium through Playwright's Python package; no browser is downloaded).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TANBA_HOME=/var/lib/tanba

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ffmpeg libchromaprint1 libchromaprint-tools libgeoip1 geoip-database chromium \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/tanba
# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir -p tanba && touch tanba/__init__.py && pip install . && pip uninstall -y tanba
COPY tanba ./tanba
RUN pip install --no-deps .

# Never root: the state directory belongs to an unprivileged user. With the default
# TANBA_BLOBS=embedded, blobs and captures are volumes shared by the crawler (writes), the
# fingerprint workers and the console; with s3:// (docker-compose.yml) they are in the
# object store and captures/ is only the crawler's spool.
RUN useradd --system --uid 10001 --home-dir /var/lib/tanba --shell /usr/sbin/nologin tanba \
 && mkdir -p /var/lib/tanba/blobs /var/lib/tanba/captures \
 && chown -R tanba: /var/lib/tanba
USER tanba
VOLUME ["/var/lib/tanba/blobs", "/var/lib/tanba/captures"]

ENTRYPOINT ["tanba"]
CMD ["--help"]
