from django.apps import AppConfig


class ModesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "modes"
    verbose_name = "Assistant modes"

    def ready(self) -> None:
        from .registry import autodiscover

        autodiscover()
