"""Accounts: the user model, logins locked out after failures (django-axes), and
where logging in and out leads."""

from datetime import timedelta

from . import env as cfg

AUTH_USER_MODEL = "accounts.User"

# django-axes refuses logins from a client address after LOGIN_FAILURE_LIMIT failures,
# for LOGIN_COOLOFF minutes: the login page, the admin's and /api/token alike.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = cfg.LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=cfg.LOGIN_COOLOFF)
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_CLIENT_IP_CALLABLE = "accounts.clients.client_address"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# A success does not wipe the failures (else one valid account would reset the count),
# and successes are not logged (the table would grow with every API login).
AXES_RESET_ON_SUCCESS = False
AXES_DISABLE_ACCESS_LOG = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
