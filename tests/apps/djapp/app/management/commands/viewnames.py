"""Prints, as JSON, the view Django itself resolves each path to, in both forms the
records give: {path: {"view_name": module.__qualname__, "scooby_view_name":
module.__name__}} (tests/e2e/test_views.py compares the records with it)."""
import json

from django.core.management.base import BaseCommand
from django.urls import resolve


class Command(BaseCommand):
    help = "the view each path resolves to: module.__qualname__ and module.__name__"

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+")

    def handle(self, *args, **options):
        out = {}
        for path in options["paths"]:
            func = resolve(path).func
            out[path] = {"view_name": "%s.%s" % (func.__module__, func.__qualname__),
                         "scooby_view_name": "%s.%s" % (func.__module__, func.__name__)}
        self.stdout.write(json.dumps(out))
