"""The app's own record of the SQL each request executed, sent back in the X-SQL response
header (a JSON list): every statement Django ran (connection.execute_wrapper), in the form
the driver received it, and the statement the backend runs itself on connecting."""
import json
import re
import sys
import threading

from django.db import connection
from django.db.backends.signals import connection_created

_local = threading.local()
_QMARK = re.compile(r"(?<!%)%s")  # as Django's SQLite backend converts the placeholders


def _on_connect(sender, connection, **kwargs):
    log = getattr(_local, "log", None)
    if log is not None and connection.vendor == "sqlite":
        log.append("PRAGMA foreign_keys = ON")  # get_new_connection() runs it


connection_created.connect(_on_connect)


def _wrapper(execute, sql, params, many, context):
    if connection.vendor == "sqlite":
        text = _QMARK.sub("?", sql).replace("%%", "%") if params is not None else sql
    else:
        # psycopg2 sends the parameters inline: the text as the server gets it
        text = context["cursor"].mogrify(sql, params).decode() if params else sql
    _local.log.append(text)
    return execute(sql, params, many, context)


class SqlRecord:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/state/":
            return self.get_response(request)  # touches no database, loads no driver
        _local.log = []
        try:
            with connection.execute_wrapper(_wrapper):
                response = self.get_response(request)
        finally:
            log, _local.log = _local.log, None
        response["X-SQL"] = json.dumps(log)
        response["X-Driver-Loaded"] = "1" if ("sqlite3" in sys.modules or
                                              "psycopg2" in sys.modules) else "0"
        return response
