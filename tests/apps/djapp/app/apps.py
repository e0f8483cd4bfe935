from django.apps import AppConfig


class AppAppConfig(AppConfig):
    name = "app"
    default_auto_field = "django.db.models.AutoField"
