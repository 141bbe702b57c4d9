from django.apps import AppConfig


class PluginAppConfig(AppConfig):
    """An app of the site's own, outside modes/ and assistant/, that adds a mode and a worker agent."""

    name = "tests.plugin_app"
    label = "plugin_app"
