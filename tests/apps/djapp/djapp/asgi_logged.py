"""The Django app's ASGI application (tests/e2e/test_asgi.py), writing down what Django itself
executed for each request, as wsgi_logged.py does for WSGI: one JSON line per request appended
to $SCOOBY_SQL_LOG before its last response bytes are sent, with its X-Request-ID, its path and
its statements in order as the connection's execute wrapper saw them ("<connect>" where Django
opened the connection; on PostgreSQL, as psycopg2 sends them, its literals inline). Django runs the sync views and the ORM in asgiref's executor thread:
the request's statements are found through a context variable, which asgiref's sync_to_async
copies into that thread."""
import contextvars
import json
import os
import threading

from django.core.asgi import get_asgi_application
from django.db.backends.signals import connection_created

LOG = os.environ["SCOOBY_SQL_LOG"]
_lock = threading.Lock()
_executed = contextvars.ContextVar("scooby_executed", default=None)

django_application = get_asgi_application()


def _wrapper(execute, sql, params, many, context):
    executed = _executed.get()
    if executed is not None:
        if context["connection"].vendor == "postgresql" and not many:
            # psycopg2 sends its literals inline: log the text as libpq receives it
            executed.append(context["cursor"].cursor.mogrify(sql, params).decode())
        else:
            executed.append(sql)
    return execute(sql, params, many, context)


def _on_connect(sender, connection, **kwargs):
    executed = _executed.get()
    if executed is not None:
        executed.append("<connect>")
    if _wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.append(_wrapper)


connection_created.connect(_on_connect)


def _header(scope, name):
    for key, value in scope.get("headers", ()):
        if key.decode("latin-1").lower() == name:
            return value.decode("latin-1")
    return None


async def application(scope, receive, send):
    if scope["type"] != "http":
        return await django_application(scope, receive, send)
    executed = []
    token = _executed.set(executed)

    async def logged_send(message):
        if message["type"] == "http.response.body" and not message.get("more_body"):
            line = json.dumps({"request_id": _header(scope, "x-request-id"),
                               "path": scope["path"], "pid": os.getpid(),
                               "sql": list(executed)})
            with _lock, open(LOG, "a") as f:
                f.write(line + "\n")
        await send(message)

    try:
        await django_application(scope, receive, logged_send)
    finally:
        _executed.reset(token)
