"""A view decorator outside app.views: a wrapped view's function lives here while
functools.wraps gives it the view's own __module__ and names (tests/e2e/test_views.py)."""
import functools
import time


def timed(view):
    """Adds an X-Elapsed header: a functools.wraps decorator as applications write them."""
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        start = time.monotonic()
        response = view(request, *args, **kwargs)
        response["X-Elapsed"] = "%.6f" % (time.monotonic() - start)
        return response
    return wrapper
