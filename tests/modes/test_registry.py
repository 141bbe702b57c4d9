import sys
import types

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import autodiscover_modules

from modes.base import ModeBehaviour
from modes.registry import AlreadyRegistered, ModeRegistry, NotRegistered, register, site


def make_mode(mode_id, **attrs):
    return type(f"Mode_{mode_id}", (ModeBehaviour,), {"id": mode_id, **attrs})


def test_register_get_all_unregister():
    registry = ModeRegistry()
    one, two = make_mode("one"), make_mode("two")
    registry.register(one)
    register(two, registry=registry)
    assert [type(m) for m in registry.all()] == [one, two]
    assert isinstance(registry.get("two"), two)
    assert "one" in registry and "three" not in registry
    registry.unregister("one")
    with pytest.raises(NotRegistered):
        registry.get("one")
    with pytest.raises(NotRegistered):
        registry.unregister("one")


def test_the_decorator_returns_the_class():
    registry = ModeRegistry()

    @register(registry=registry)
    class Mine(ModeBehaviour):
        id = "mine"

    assert Mine.id == "mine" and isinstance(registry.get("mine"), Mine)


def test_a_duplicate_id_raises_at_once():
    registry = ModeRegistry()
    registry.register(make_mode("same"))
    with pytest.raises(AlreadyRegistered, match="already registered"):
        registry.register(make_mode("same"))


@pytest.mark.parametrize("bad", ["", "Job", "has-dash", "1st", None, "x" * 65, "with space"])
def test_a_malformed_id_raises_at_once(bad):
    with pytest.raises(ImproperlyConfigured):
        ModeRegistry().register(make_mode("placeholder", id=bad))


def test_only_mode_classes_register():
    with pytest.raises(ImproperlyConfigured):
        ModeRegistry().register(object)


def test_a_setting_enables_a_subset_in_its_order(settings):
    registry = ModeRegistry()
    for mode_id in ("a", "b", "c"):
        registry.register(make_mode(mode_id))
    settings.ASSISTANT_MODES = ["c", "a", "missing"]
    assert [m.id for m in registry.all()] == ["c", "a"]
    with pytest.raises(NotRegistered):
        registry.get("b")


def test_the_built_in_modes_are_discovered():
    assert {"job_code", "workflow_template"} <= {m.id for m in site.all()}


def test_a_broken_ai_modes_module_raises_its_real_error(monkeypatch, settings):
    package = types.ModuleType("brokenapp")
    package.__path__ = []  # a package, so that brokenapp.ai_modes is looked up
    monkeypatch.setitem(sys.modules, "brokenapp", package)

    class Finder:
        def find_spec(self, name, path=None, target=None):
            if name == "brokenapp.ai_modes":
                from importlib.machinery import ModuleSpec

                class Loader:
                    def create_module(self, spec):
                        return None

                    def exec_module(self, module):
                        raise ZeroDivisionError("a bug in the app's ai_modes")

                return ModuleSpec(name, Loader())
            return None

    monkeypatch.setattr(sys, "meta_path", [Finder(), *sys.meta_path])
    from django.apps import apps

    config = types.SimpleNamespace(name="brokenapp", module=package)
    monkeypatch.setattr(apps, "get_app_configs", lambda: [config])
    registry = ModeRegistry()
    with pytest.raises(ZeroDivisionError, match="a bug in the app"):
        autodiscover_modules("ai_modes", register_to=registry)
