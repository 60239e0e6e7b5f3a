from django.apps import AppConfig


class StationsConfig(AppConfig):
    name = "stations"
    verbose_name = "Charge points"

    def ready(self) -> None:
        # The ocpp package validates every frame in a thread pool by default; a schema check
        # takes microseconds, far less than the thread hop, so validate inline.
        import ocpp.messages

        ocpp.messages.ASYNC_VALIDATION = False
