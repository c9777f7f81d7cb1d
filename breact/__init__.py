"""BReact Console: the Django project package."""

from breact.celery import app as celery_app

__all__ = ["celery_app"]
