"""Views of the scooby-bpf test app. Every view's SQL is fixed so the tests can
assert the exact statements, in order (see tests/e2e/test_sqlite.py)."""
import os
import re
import threading
import time

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils.html import escape
from django.views import View
from django.views.generic import TemplateView

from app.decorators import timed
from app.models import Item


def items(request):
    """Three queries: count, list, LIKE-exists."""
    count = Item.objects.count()
    rows = [{"id": it.id, "name": it.name} for it in Item.objects.order_by("id")]
    has_items = Item.objects.filter(name__startswith="item").exists()
    return JsonResponse({"count": count, "items": rows, "has_items": has_items})


def item(request, item_id):
    """One query (get with LIMIT 21); 404 when the id does not exist."""
    it = get_object_or_404(Item, id=item_id)
    return JsonResponse({"id": it.id, "name": it.name, "pid": os.getpid()})


def nplus1(request):
    """N+1: one list query then one query per item (the same statement each time)."""
    names = []
    for it in Item.objects.order_by("id")[:5]:
        names.append(Item.objects.get(id=it.id).name)
    return JsonResponse({"names": names})


def nplus1_page(request):
    """The N+1 queries of nplus1 as an HTML page (make bench's page: django-debug-toolbar
    injects itself into HTML responses only)."""
    names = []
    for it in Item.objects.order_by("id")[:5]:
        names.append(Item.objects.get(id=it.id).name)
    rows = "".join("<li>%s</li>" % escape(n) for n in names)
    return HttpResponse("<!DOCTYPE html>\n<html><head><title>N+1</title></head>"
                        "<body><ul>%s</ul></body></html>\n" % rows)


def fail(request):
    """A raw query on a missing table: the exception is not caught, so 500."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM nope")
    return HttpResponse("unreachable")


def noquery(request):
    return HttpResponse("no query here\n", content_type="text/plain")


def slow(request):
    """200 ms sleep, one query, 200 ms sleep."""
    time.sleep(0.2)
    count = Item.objects.count()
    time.sleep(0.2)
    return JsonResponse({"count": count})


def _background_query(tag):
    time.sleep(0.5)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 'bg-%s', COUNT(*) FROM app_item" % tag)
            cursor.fetchall()
    finally:
        connection.close()


def bg(request):
    """Answers at once; a thread runs one query 0.5 s later, outside any request."""
    tag = re.sub(r"[^0-9a-zA-Z]", "", request.GET.get("tag", "x"))[:40] or "x"
    threading.Thread(target=_background_query, args=(tag,), daemon=True).start()
    return HttpResponse("SELECT 'bg-%s', COUNT(*) FROM app_item" % tag, content_type="text/plain")


def longquery(request, length):
    """One raw query of a little more than `length` bytes; the body is its text."""
    sql = "SELECT COUNT(*) FROM app_item WHERE name != '%s'" % ("x" * length)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        cursor.fetchall()
    return HttpResponse(sql, content_type="text/plain")


def unicode(request):
    """One raw query with non-ASCII text, quotes and a backslash (JSON escaping)."""
    sql = "SELECT COUNT(*) FROM app_item WHERE name != 'h\u00e9llo \"w\u00f6rld\" \\ \u2713 \u65e5\u672c'"
    with connection.cursor() as cursor:
        cursor.execute(sql)
        cursor.fetchall()
    return HttpResponse(sql.encode("utf-8"), content_type="text/plain; charset=utf-8")


def multibyte(request, count):
    """One raw query made of `count` 3-byte UTF-8 characters (U+2713) in a literal."""
    sql = "SELECT COUNT(*) FROM app_item WHERE name != '%s'" % ("\u2713" * count)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        cursor.fetchall()
    return HttpResponse(sql.encode("utf-8"), content_type="text/plain; charset=utf-8")


def pid(request):
    return HttpResponse("%d\n" % os.getpid(), content_type="text/plain")


# --- Python stack tests (tests/e2e/test_stacks.py) ---------------------------------
# The tests find the lines below by their marker comments (# DJ_...): keep one marker
# per line, and do not reuse a marker.

def stack_query(request):
    """One ORM query at a known line: SELECT COUNT(*) ... WHERE id <= 3."""
    count = Item.objects.filter(id__lte=3).count()  # DJ_Q1
    return JsonResponse({"count": count})


def stack_loop(request):
    """N+1 from one line: the same get() five times (ids 1..5)."""
    names = []
    for item_id in range(1, 6):
        names.append(Item.objects.get(id=item_id).name)  # DJ_LOOP
    return JsonResponse({"names": names})


class StackView(View):
    """A class-based view: one ORM query in get()."""

    def get(self, request):
        count = Item.objects.count()  # DJ_CBV
        return JsonResponse({"count": count})


def _stack_thread_query(tag, out):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 'thr-%s', COUNT(*) FROM app_item" % tag)  # DJ_THR
            out.append(cursor.fetchall()[0][1])
    finally:
        connection.close()


def stack_thread(request):
    """Starts a new thread (after scooby-bpf attached) that runs one raw query, and
    waits for it: the query is outside the request's thread, so it goes to the
    process's background record."""
    tag = re.sub(r"[^0-9a-zA-Z]", "", request.GET.get("tag", "x"))[:40] or "x"
    out = []
    worker = threading.Thread(target=_stack_thread_query, args=(tag, out), daemon=True)
    worker.start()
    worker.join(10)
    return JsonResponse({"count": out[0] if out else None})


def secrets(request):
    """Statements carrying a password and literals, for the redaction tests: SQLite
    rejects ALTER USER (a failed prepare is still a query, with its text)."""
    with connection.cursor() as cursor:
        try:
            cursor.execute("ALTER USER bob PASSWORD 'hunter2'")
        except Exception:
            pass
        cursor.execute("SELECT name FROM app_item WHERE name = 'item 1' OR id = 42")
    return JsonResponse({"ok": True})


# --- View names (tests/e2e/test_views.py): views that run no query -------------------

def view_page(request):
    """A page rendered from a template: no query, no syscall once the template is cached."""
    return render(request, "app/page.html", {"title": "page"})


class PageView(TemplateView):
    """A class-based view; Django renders its TemplateResponse after the view returned."""

    template_name = "app/page.html"
    extra_context = {"title": "class"}


@login_required
def view_login(request):
    """Behind login_required (djapp/wsgi.py's requests carry a signed-in user)."""
    return render(request, "app/page.html", {"title": "login"})


@timed
def view_wrapped(request):
    """Behind a functools.wraps decorator of another module (app/decorators.py)."""
    return render(request, "app/page.html", {"title": "wrapped"})


def make_view(title):
    """A view made by a factory: its __qualname__ (make_view.<locals>.made) is not its
    __name__ (made), so the two view name forms differ."""
    def made(request):
        return render(request, "app/page.html", {"title": title})
    return made


view_made = make_view("made")


def view_raises(request):
    """An uncaught exception: Django answers 500."""
    raise ValueError("view_raises: on purpose")
