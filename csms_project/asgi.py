"""ASGI entry point: HTTP to Django (REST API, admin, docs), WebSocket to OCPP and the
event stream.

API calls without a session take a lean Django handler with no middleware: Django's
built-in middleware runs its hooks through ``sync_to_async``, a thread hop each, about
ten per request, which cost more than the rest of an API call together. The admin, the
docs and any request carrying a session cookie (staff using the browsable API) take the
full stack.

The lean handler also renders an async view's response on the event loop: Django renders
a DRF ``Response`` (a template response) through ``sync_to_async``, one more thread hop
per request for a ``json.dumps``. And it sends ``request_started`` and
``request_finished`` on the event loop instead of through ``sync_to_async``: Django's
own handler runs each request in a ``ThreadSensitiveContext``, so those two signals
started and joined a new thread per request. Their receivers (closing stale
connections, resetting the query log) find no connection on the event loop: the API's
ORM work runs on ``stations.db``'s threads, which look after their own connections.
"""

import asyncio
import functools
import os
from inspect import iscoroutinefunction

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms_project.settings")
import sys

if os.environ.get("CSMS_GIL_SWITCH"):
    sys.setswitchinterval(float(os.environ["CSMS_GIL_SWITCH"]))
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.core import signals  # noqa: E402
from django.core.exceptions import RequestAborted  # noqa: E402
from django.core.handlers.asgi import ASGIHandler, get_script_prefix  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.urls import set_script_prefix  # noqa: E402

from csms_project.routing import websocket_urlpatterns  # noqa: E402

FULL_STACK_PREFIXES = ("/admin", "/docs", "/redoc", "/api/schema", "/static", "/api-auth")


class LeanASGIHandler(ASGIHandler):
    """Django's handler with no middleware, for API calls."""

    def load_middleware(self, is_async: bool = False) -> None:
        with override_settings(MIDDLEWARE=[]):
            super().load_middleware(is_async)

    def resolve_request(self, request):
        match = super().resolve_request(request)
        if iscoroutinefunction(match.func):
            return _rendered_on_the_loop(match.func), match.args, match.kwargs
        return match

    async def __call__(self, scope, receive, send) -> None:
        # Django's version wraps handle() in a ThreadSensitiveContext (see above).
        await self.handle(scope, receive, send)

    async def handle(self, scope, receive, send) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            set_script_prefix(get_script_prefix(scope))
            signals.request_started.send(sender=self.__class__, scope=scope)
            request, error_response = self.create_request(scope, body_file)
            if request is None:
                await self.send_response(error_response, send)
                error_response.close()
                return
            response = await self._respond_unless_disconnected(request, receive, send)
            if response is None:
                signals.request_finished.send(sender=self.__class__)
            else:
                response.close()  # sends request_finished
        finally:
            body_file.close()

    async def _respond_unless_disconnected(self, request, receive, send):
        """The response, or None when the client went away first: the view is then
        cancelled, so an operation waiting on a station completes its history rows as
        cancelled (profiles.services)."""
        respond = asyncio.ensure_future(self._respond(request, send))
        disconnect = asyncio.ensure_future(self.listen_for_disconnect(receive))
        try:
            await asyncio.wait((respond, disconnect), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not disconnect.done():
                disconnect.cancel()
            elif not disconnect.cancelled():
                disconnect.exception()  # RequestAborted: expected, marked as seen
            if not respond.done():
                respond.cancel()
        try:
            return await respond
        except (asyncio.CancelledError, RequestAborted):
            return None

    async def _respond(self, request, send):
        response = await self.run_get_response(request)
        await self.send_response(response, send)
        return response


def _rendered_on_the_loop(view):
    """``view``, answering a plain HttpResponse with the rendered content (so Django has
    nothing left to render in a thread)."""

    @functools.wraps(view)
    async def rendered(request, *args, **kwargs):
        response = await view(request, *args, **kwargs)
        if not callable(getattr(response, "render", None)):
            return response
        response.render()
        plain = HttpResponse(response.content, status=response.status_code,
                             headers=dict(response.items()))
        plain.reason_phrase = response.reason_phrase
        plain.cookies = response.cookies
        plain["Content-Length"] = str(len(plain.content))
        return plain

    return rendered


def _needs_full_stack(scope: dict) -> bool:
    if scope["path"].startswith(FULL_STACK_PREFIXES):
        return True
    cookie_names = (settings.SESSION_COOKIE_NAME.encode(), settings.CSRF_COOKIE_NAME.encode())
    return any(
        name == b"cookie" and any(cookie in value for cookie in cookie_names)
        for name, value in scope.get("headers", [])
    )


class HttpRouter:
    def __init__(self) -> None:
        self.full = ASGIStaticFilesHandler(django_asgi_app)
        self.lean = LeanASGIHandler()

    async def __call__(self, scope, receive, send) -> None:
        handler = self.full if _needs_full_stack(scope) else self.lean
        await handler(scope, receive, send)


application = ProtocolTypeRouter(
    {
        # Static files (admin, Swagger UI and ReDoc assets from the sidecar) are served
        # by the app itself, so the docs work with no internet and no extra server.
        "http": HttpRouter(),
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
