"""``assistant.defaults.install``: what a site's settings get from the README's two lines."""

from assistant.defaults import APPS, install


def startproject_settings() -> dict:
    """What ``django-admin startproject mysite`` writes, as far as install reads it."""
    return {
        "SECRET_KEY": "django-insecure-the-sites-own-key",
        "DEBUG": True,
        "ALLOWED_HOSTS": [],
        "INSTALLED_APPS": [
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
            "shop",
        ],
        "MIDDLEWARE": [
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ],
        "ROOT_URLCONF": "mysite.urls",
        "WSGI_APPLICATION": "mysite.wsgi.application",
        "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/mysite/db.sqlite3"}},
        "TIME_ZONE": "Europe/Paris",
        "STATIC_URL": "static/",
    }


def test_install_adds_the_apps_and_middleware_and_keeps_the_sites_own_settings(monkeypatch):
    from assistant.defaults import env

    monkeypatch.setattr(env, "DATABASE", None)  # no DATABASE_URL
    site = startproject_settings()
    install(site)
    assert site["INSTALLED_APPS"][:7] == startproject_settings()["INSTALLED_APPS"]
    assert site["INSTALLED_APPS"][7:] == APPS
    middleware = site["MIDDLEWARE"]
    assert middleware[1] == "whitenoise.middleware.WhiteNoiseMiddleware"  # right after security
    assert middleware[-2:] == ["axes.middleware.AxesMiddleware", "assistant.middleware.SynchronousChain"]
    assert site["ASGI_APPLICATION"] == "mysite.asgi.application"
    assert site["TIME_ZONE"] == "Europe/Paris" and site["DEBUG"] is True
    # The site's own database, tuned for the assistant's worker threads.
    database = site["DATABASES"]["default"]
    assert database["NAME"] == "/srv/mysite/db.sqlite3"
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    # The assistant's settings, with defaults that need no services.
    assert site["AUTH_USER_MODEL"] == "accounts.User"
    assert site["REST_FRAMEWORK"]["EXCEPTION_HANDLER"] == "assistant.errors.api_exception_handler"
    from assistant import defaults

    assert site["CHANNEL_LAYERS"] == defaults.CHANNEL_LAYERS  # in memory unless REDIS_URL is set
    assert site["OPENAI_BASE_URL"] == defaults.OPENAI_BASE_URL
    assert site["ASSISTANT"]["MAX_IN_FLIGHT_PER_USER"] == defaults.ASSISTANT["MAX_IN_FLIGHT_PER_USER"]
    # Tokens and webhooks are signed with keys of the site's SECRET_KEY, never with one
    # the site does not know.
    assert site["SIMPLE_JWT"]["SIGNING_KEY"] == "django-insecure-the-sites-own-key"
    assert site["NOTIFY_SECRET"] not in (site["SECRET_KEY"], "")
    other = startproject_settings() | {"SECRET_KEY": "another-site"}
    install(other)
    assert other["NOTIFY_SECRET"] != site["NOTIFY_SECRET"]


def test_install_twice_adds_nothing_twice_and_a_site_setting_wins():
    site = startproject_settings() | {"LOGIN_URL": "/my-login/", "ASSISTANT": {"MAX_IN_FLIGHT_PER_USER": 2}}
    install(site)
    install(site)
    assert len(site["INSTALLED_APPS"]) == len(set(site["INSTALLED_APPS"]))
    assert len(site["MIDDLEWARE"]) == len(set(site["MIDDLEWARE"]))
    assert site["LOGIN_URL"] == "/my-login/"
    assert site["ASSISTANT"] == {"MAX_IN_FLIGHT_PER_USER": 2}


def test_database_url_in_the_environment_wins_over_the_sites_database(monkeypatch):
    from assistant.defaults import env

    monkeypatch.setattr(env, "DATABASE", {"ENGINE": "django.db.backends.postgresql", "NAME": "shop"})
    site = startproject_settings()
    install(site)
    database = site["DATABASES"]["default"]
    assert (database["ENGINE"], database["NAME"]) == ("django.db.backends.postgresql", "shop")
    assert database["CONN_HEALTH_CHECKS"] is True and "pool" in database["OPTIONS"]


def test_the_synchronous_chain_stays_last_after_a_sites_own_middleware():
    site = startproject_settings()
    chain = "assistant.middleware.SynchronousChain"
    site["MIDDLEWARE"] = [*site["MIDDLEWARE"], chain, "mysite.middleware.Last"]
    install(site)
    assert site["MIDDLEWARE"][-3:] == [
        "mysite.middleware.Last", "axes.middleware.AxesMiddleware", chain,
    ]  # fmt: skip
    assert site["MIDDLEWARE"].count(chain) == 1
