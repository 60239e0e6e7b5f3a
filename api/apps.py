import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger(__name__)


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        from api import schema  # noqa: F401  (registers the OpenAPI auth extension)

        if not settings.CSMS_API_AUTH:
            logger.warning(
                "CSMS_API_AUTH=off: the REST API and event stream accept anyone on the "
                "network. Use this only in a closed lab."
            )
