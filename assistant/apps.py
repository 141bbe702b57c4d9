from django.apps import AppConfig


class AssistantConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "assistant"
    verbose_name = "AI assistant"

    def ready(self) -> None:
        from . import (
            actions,
            processing,  # noqa: F401  (registers the work this process may run)
        )
        from .tools import site

        site.autodiscover()
        actions.site.autodiscover()
