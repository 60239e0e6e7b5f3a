"""WebSocket routes: OCPP on ``/<station_id>`` (the port 9000 convention) and on
``/ocpp/<station_id>`` (next to the REST API on port 8000); live events on
``/ws/events``."""

from django.urls import re_path

from api.events_consumer import EventsConsumer
from stations.consumer import OcppConsumer

STATION_ID = r"(?P<station_id>[^/]{1,48})"

websocket_urlpatterns = [
    re_path(r"^ws/events/?$", EventsConsumer.as_asgi()),
    re_path(rf"^ocpp/{STATION_ID}/?$", OcppConsumer.as_asgi()),
    re_path(rf"^{STATION_ID}/?$", OcppConsumer.as_asgi()),
]
