"""The innermost middleware the assistant adds: it runs the request's middleware chain
on one thread.

Under the ASGI server Django adapts each middleware to the mode of the one inside it.
The chain ends in the asynchronous handler, so every async-capable middleware runs in
async mode, and the synchronous hooks of Django's own (``process_request``,
``process_response``) each cross from the event loop to a thread and back: a dozen
crossings for every request, each a wake-up of two threads under one GIL. Synchronous
only and innermost, this middleware makes Django run every middleware above it
synchronously, all on the request's one thread; the assistant's views are synchronous
anyway.
"""

from __future__ import annotations


class SynchronousChain:
    sync_capable = True
    async_capable = False

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)
