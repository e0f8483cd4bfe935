"""A Django project with no models, so that nothing touches the database at start-up and
the driver (sqlite3 and libsqlite3, or psycopg2 and libpq) is imported at the first request
that queries (issue 13). Run with --chdir here: DJANGO_SETTINGS_MODULE=settings, wsgi:application.

SCOOBY_DB=sqlite (default)   SCOOBY_SQLITE_PATH=/path/to/db.sqlite3 (table items made by the test)
SCOOBY_DB=postgresql         SCOOBY_PG_HOST, SCOOBY_PG_PORT, SCOOBY_PG_NAME, SCOOBY_PG_USER
"""
import os

SECRET_KEY = "scooby-bpf-test-app-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = []
MIDDLEWARE = ["sqlrecord.SqlRecord"]
ROOT_URLCONF = "urls"
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False

if os.environ.get("SCOOBY_DB", "sqlite") == "sqlite":
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                             "NAME": os.environ["SCOOBY_SQLITE_PATH"]}}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql",
                             "HOST": os.environ["SCOOBY_PG_HOST"],
                             "PORT": os.environ.get("SCOOBY_PG_PORT", "5432"),
                             "NAME": os.environ.get("SCOOBY_PG_NAME", "scooby"),
                             "USER": os.environ.get("SCOOBY_PG_USER", "postgres")}}
