"""The Django app's ASGI application (tests/bench.sh runs its N+1 page under uvicorn)."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djapp.settings")
application = get_asgi_application()
