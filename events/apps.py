from django.apps import AppConfig


class EventsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "events"
    verbose_name = "Events"

    def ready(self) -> None:
        from . import services, signals  # noqa: F401  (registers the work this process runs; connects the receivers)
        from .registry import autodiscover

        autodiscover()
