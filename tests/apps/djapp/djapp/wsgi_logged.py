"""The Django app's WSGI application, writing down what Django itself executed for each request:
one JSON line per request appended to $SCOOBY_SQL_LOG, with its X-Request-ID, its path and its
statements in order as Django's connection.execute_wrapper saw them ("<connect>" where Django
opened the connection, whose set-up runs outside the cursor). The tests compare scooby-bpf's
records against this log, not against a list of their own."""
import json
import os
import threading

from django.db import connection
from django.db.backends.signals import connection_created

from djapp.wsgi import application as django_application

LOG = os.environ["SCOOBY_SQL_LOG"]
_lock = threading.Lock()
_current = threading.local()


def _on_connect(sender, connection, **kwargs):
    executed = getattr(_current, "executed", None)
    if executed is not None:
        executed.append("<connect>")


connection_created.connect(_on_connect)


def application(environ, start_response):
    executed = []
    _current.executed = executed

    def wrapper(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    try:
        with connection.execute_wrapper(wrapper):
            response = django_application(environ, start_response)
            try:
                body = b"".join(response)
            finally:
                response.close()  # request_finished: Django closes the connection here
    finally:
        _current.executed = None
    line = json.dumps({"request_id": environ.get("HTTP_X_REQUEST_ID"),
                       "path": environ.get("PATH_INFO"), "pid": os.getpid(), "sql": executed})
    with _lock, open(LOG, "a") as f:
        f.write(line + "\n")
    return [body]
