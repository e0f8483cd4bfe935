"""Views with fixed raw SQL: one row, or a count and a list."""
import os
import sys

from django.db import connection
from django.http import JsonResponse
from django.urls import path


def item(request, item_id):
    with connection.cursor() as cur:
        cur.execute("SELECT id, name FROM items WHERE id = %s", [item_id])
        row = cur.fetchone()
    return JsonResponse({"id": row[0], "name": row[1]})


def items(request):
    with connection.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM items")
        n = cur.fetchone()[0]
        cur.execute("SELECT id, name FROM items ORDER BY id")
        rows = cur.fetchall()
    return JsonResponse({"count": n, "names": [r[1] for r in rows]})


def state(request):
    """Whether a driver is imported yet, and this worker's pid: no SQL."""
    loaded = "sqlite3" in sys.modules or "psycopg2" in sys.modules
    return JsonResponse({"driver_loaded": loaded, "pid": os.getpid()})


urlpatterns = [
    path("item/<int:item_id>/", item),
    path("items/", items),
    path("state/", state),
]
