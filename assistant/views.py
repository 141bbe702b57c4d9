from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

#: The chat page loads only this site's own scripts, styles, images and sockets, so
#: markup a model writes can neither run code nor fetch anything from elsewhere.
CHAT_PAGE_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


@login_required
@ensure_csrf_cookie
def home(request):
    """The chat page: modes, conversations and live answers over the API and websockets."""
    response = render(request, "assistant/chat.html")
    response["Content-Security-Policy"] = CHAT_PAGE_CSP
    return response


def shared(request, token):
    """A conversation shared by link, for anyone holding it (no login): rendered in the
    page from the same data as ``GET /api/shared/{token}/``."""
    from .api import shared_data
    from .exceptions import NotFound

    try:
        data = shared_data(token)
    except NotFound:
        response = render(request, "assistant/shared.html", {"conversation": None}, status=404)
    else:
        response = render(request, "assistant/shared.html", {"conversation": data, "title": data["title"]})
    response["Content-Security-Policy"] = CHAT_PAGE_CSP
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response
