from django.apps import AppConfig


class ProfilesConfig(AppConfig):
    name = "profiles"
    verbose_name = "Smart charging history"

    def ready(self) -> None:
        from profiles import signals  # noqa: F401  (connects the receivers)
