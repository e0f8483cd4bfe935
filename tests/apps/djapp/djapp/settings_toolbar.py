"""The test app with Debian's django-debug-toolbar on (make bench's comparison): every
request collected, its SQL panel included, the toolbar injected into HTML pages."""
from djapp.settings import *  # noqa: F401,F403
from djapp.settings import INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = INSTALLED_APPS + ["django.contrib.staticfiles", "debug_toolbar"]
MIDDLEWARE = ["debug_toolbar.middleware.DebugToolbarMiddleware"] + MIDDLEWARE
ROOT_URLCONF = "djapp.urls_toolbar"
STATIC_URL = "/static/"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
# The toolbar shows only for INTERNAL_IPS under DEBUG by default: here, for every request.
DEBUG_TOOLBAR_CONFIG = {"SHOW_TOOLBAR_CALLBACK": "djapp.settings_toolbar.show_toolbar"}


def show_toolbar(request):
    return True
