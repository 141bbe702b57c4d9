"""``serve`` hands ``TRUSTED_PROXIES`` to uvicorn (reading the variable is tested with
the other settings in ``test_settings``)."""

from assistant.management.commands.serve import Command


def web_command(settings, proxies):
    settings.TRUSTED_PROXIES = proxies
    return Command().processes("127.0.0.1", 8000)["web"]


def test_serve_tells_uvicorn_to_ignore_forwarded_headers_by_default(settings):
    web = web_command(settings, [])
    assert "--no-proxy-headers" in web
    assert "--proxy-headers" not in web and "--forwarded-allow-ips" not in web


def test_serve_tells_uvicorn_which_proxies_to_believe(settings):
    web = web_command(settings, ["10.0.0.0/8", "192.0.2.1"])
    assert "--no-proxy-headers" not in web
    assert "--proxy-headers" in web
    assert web[web.index("--forwarded-allow-ips") + 1] == "10.0.0.0/8,192.0.2.1"
