"""WSGI entry point (gunicorn breact.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "breact.settings")

application = get_wsgi_application()
