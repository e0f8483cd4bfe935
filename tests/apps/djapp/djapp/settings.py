"""Settings of the scooby-bpf test app. The database comes from the environment:

SCOOBY_DB=sqlite (default)   SCOOBY_SQLITE_PATH=/path/to/db.sqlite3
SCOOBY_DB=postgresql         SCOOBY_PG_HOST=<unix socket dir> SCOOBY_PG_PORT=<port>
                             SCOOBY_PG_NAME=<db name> SCOOBY_PG_USER=<user>
"""
import os

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SECRET_KEY = "scooby-bpf-test-app-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = ["app"]
MIDDLEWARE = []
# app/templates: the views of tests/e2e/test_views.py render pages without a query
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
ROOT_URLCONF = "djapp.urls"
WSGI_APPLICATION = "djapp.wsgi.application"

_db = os.environ.get("SCOOBY_DB", "sqlite")
if _db == "sqlite":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SCOOBY_SQLITE_PATH", os.path.join(BASE_DIR, "db.sqlite3")),
        }
    }
elif _db == "postgresql":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ["SCOOBY_PG_HOST"],
            "PORT": os.environ.get("SCOOBY_PG_PORT", "5432"),
            "NAME": os.environ.get("SCOOBY_PG_NAME", "scooby"),
            "USER": os.environ.get("SCOOBY_PG_USER", "postgres"),
        }
    }
else:
    raise RuntimeError("SCOOBY_DB must be sqlite or postgresql, not %r" % _db)

DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["stderr"], "level": "WARNING"}},
}
