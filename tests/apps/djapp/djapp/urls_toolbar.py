"""The test app's URLs plus django-debug-toolbar's own (djapp.settings_toolbar)."""
from django.urls import include, path

from djapp.urls import urlpatterns as app_urlpatterns

urlpatterns = app_urlpatterns + [path("__debug__/", include("debug_toolbar.urls"))]
