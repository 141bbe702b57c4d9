from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _search_index_kept(sender, using="default", **kwargs) -> None:
    from . import search

    search.ensure_index(using)


class AssistantConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "assistant"
    verbose_name = "AI assistant"

    def ready(self) -> None:
        from . import (
            actions,
            embeddings,
            processing,  # noqa: F401  (registers the work this process may run)
        )
        from .embeddings.tool import semantic_search_tool
        from .tools import site

        embeddings.site.autodiscover()
        site.autodiscover()
        if embeddings.site.all():
            site.register(semantic_search_tool(embeddings.site))
        actions.site.autodiscover()
        post_migrate.connect(_search_index_kept, sender=self, dispatch_uid="assistant-search-index")
