"""WebSocket routes: OCPP on ``/<station_id>`` (the port 9000 convention) and on
``/ocpp/<station_id>`` (next to the REST API on port 8000); live events on
``/ws/events``.

The station routes match any path, even an empty id, one too long or one with an
encoded ``/`` (``scope["path"]`` is decoded): the consumer validates the id and refuses
a bad one with 400. A path no route matched would make channels' URLRouter raise, and
the server answer the handshake with 500.
"""

from django.urls import re_path

from api.events_consumer import EventsConsumer
from stations.consumer import OcppConsumer

# [\s\S] rather than ".": a decoded %0A is a character of the id like any other.
STATION_ID = r"(?P<station_id>[\s\S]*?)"

websocket_urlpatterns = [
    re_path(r"^ws/events/?$", EventsConsumer.as_asgi()),
    re_path(rf"^ocpp/{STATION_ID}/?$", OcppConsumer.as_asgi()),
    re_path(rf"^{STATION_ID}/?$", OcppConsumer.as_asgi()),
]
