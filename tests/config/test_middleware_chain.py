"""Under the ASGI server Django runs the middleware chain on one thread per request:
the assistant's last middleware is synchronous, so no hook of any middleware hops
between the event loop and a thread of its own (Django's handler still crosses for the
request's signals, the view middleware, the view and the response's rendering)."""

import pytest
from asgiref import sync
from django.test import AsyncClient


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_no_middleware_hook_crosses_between_the_event_loop_and_a_thread(monkeypatch):
    crossings = []
    original = sync.SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        crossings.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", counted)
    client = AsyncClient()
    await client.get("/api/health/")  # the first request loads the chain
    crossings.clear()
    response = await client.get("/api/health/")
    assert response.status_code == 200
    assert "View.as_view.<locals>.view" in crossings  # the count counts
    hooks = [name for name in crossings if name.endswith((".process_request", ".process_response"))]
    assert hooks == []
    assert len(crossings) <= 6, crossings
