# Patrol app image: gunicorn serving wsgi:app on port 8000 (docs/deploy.md).
# The Chinese font for PDFs comes with requirements.txt (paperang-p2-fonts-cjk): no system font needed.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FLASK_APP=wsgi

# tzdata: the sites' timezones (zoneinfo) on a slim image that may not carry it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home --home-dir /home/patrol patrol

WORKDIR /srv/patrol
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY wsgi.py ./
COPY server ./server
COPY checklists ./checklists
COPY migrations ./migrations
COPY deploy/scheduler.sh ./deploy/scheduler.sh
# instance/: the development secret key and the local store; in production SECRET_KEY comes
# from the environment and files go to the bucket (STORAGE_BACKEND=s3).
RUN mkdir -p instance && chown patrol:patrol instance

USER patrol
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s \
  CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4).status != 200)"
# --forwarded-allow-ips: trust X-Forwarded-Proto from the reverse proxy (Secure cookies, URLs).
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "120", "--forwarded-allow-ips", "*", "--access-logfile", "-", "wsgi:app"]
