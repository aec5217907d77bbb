FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core gettext \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
RUN pip install .
COPY . .
RUN DJANGO_DEBUG=true python manage.py compilemessages --ignore=.venv >/dev/null 2>&1 || true \
 && DJANGO_DEBUG=false DJANGO_SECRET_KEY=build-only-collectstatic-key-not-used-at-runtime-000000 \
    ICBT_MASTER_KEY=YnVpbGQtb25seS1jb2xsZWN0c3RhdGljLWtleS0wMDA= python manage.py collectstatic --noinput
RUN useradd --create-home icbt && mkdir -p /app/var && chown -R icbt /app/var
USER icbt
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "icbt.wsgi:application"]
