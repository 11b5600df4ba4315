import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
# Import every view now, while the worker boots, not in its first request: loading the URLconf takes
# ~1 s, and after a restart under load the reports queued behind that request waited for it
# (bench/load.py --preset short: p99 1.8 s; docs/benchmarks.md).
get_resolver().url_patterns
