"""ASGI entry point: HTTP to Django (REST API, admin, docs), WebSocket to OCPP and the
event stream.

API calls without a session take a lean Django handler with no middleware: Django's
built-in middleware runs its hooks through ``sync_to_async``, a thread hop each, about
ten per request, which cost more than the rest of an API call together. The admin, the
docs and any request carrying a session cookie (staff using the browsable API) take the
full stack.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms_project.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from csms_project.routing import websocket_urlpatterns  # noqa: E402

FULL_STACK_PREFIXES = ("/admin", "/docs", "/redoc", "/api/schema", "/static", "/api-auth")


class LeanASGIHandler(ASGIHandler):
    """Django's handler with no middleware, for API calls."""

    def load_middleware(self, is_async: bool = False) -> None:
        with override_settings(MIDDLEWARE=[]):
            super().load_middleware(is_async)


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
