"""The base of the API's async views.

adrf runs DRF's ``initial()`` (authentication, permissions, throttles) in a new thread
for every request. Here it runs on the event loop whenever it needs no database: the
API key was looked up recently (``api.authentication`` keeps valid keys ten seconds)
and there is no session cookie. Otherwise it runs on a database thread.
"""

from __future__ import annotations

from adrf.views import APIView
from django.conf import settings
from rest_framework.views import APIView as DRFAPIView

from api import auth_failures
from api.authentication import cached, lookup, pin, secret_from
from stations import db


class AsyncAPIView(APIView):
    # adrf's version wraps a possible async throttle in async_to_sync, which cannot run
    # on the event loop; ours are synchronous and in memory, DRF's own loop suffices.
    check_throttles = DRFAPIView.check_throttles

    async def async_dispatch(self, request, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        try:
            if await self._initial_needs_no_database(request):
                self.initial(request, *args, **kwargs)
            else:
                await db.run(self.initial, request, *args, **kwargs)
            handler = getattr(self, request.method.lower(), self.http_method_not_allowed)
            response = await handler(request, *args, **kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response

    async def _initial_needs_no_database(self, request) -> bool:
        if settings.SESSION_COOKIE_NAME in request._request.COOKIES:
            return False
        secret = secret_from(request._request.headers)
        if secret is None:
            return True
        if auth_failures.wait_seconds(auth_failures.address_of_request(request)) is not None:
            return True  # refused (429) before any lookup: guessing costs no query
        key = cached(secret) or await db.run(lookup, secret)
        if key is None:
            return False  # a wrong key: initial() answers it on a database thread
        pin(request._request, secret, key)
        return True
