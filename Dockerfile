# Production image: gunicorn (web), celery worker and beat share it.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=config.production
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
COPY agents/ agents/
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN SECRET_KEY=build-only-$(head -c 48 /dev/urandom | base64 | tr -d '/+=') python manage.py collectstatic --noinput
RUN useradd --system --home /app chipwatch && mkdir -p /app/var && chown chipwatch /app/var
USER chipwatch
EXPOSE 8000
CMD ["gunicorn", "-c", "python:config.gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
