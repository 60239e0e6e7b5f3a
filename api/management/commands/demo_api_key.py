"""The demo's operator key: created on first run and kept in var/demo-api-key so the
README's curl lines can read it. For a laptop demo, not for production."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from api.models import ApiKey, Role

DEMO_NAME = "demo-operator"


class Command(BaseCommand):
    help = "Create the demo operator key on first run and print a ready curl line."

    def handle(self, *args, **options) -> None:
        path = Path(settings.VAR_DIR) / "demo-api-key"
        secret = path.read_text().strip() if path.exists() else ""
        key = ApiKey.objects.filter(name=DEMO_NAME, revoked=False).first()
        if key is None or not secret or not key.matches(secret):
            ApiKey.objects.filter(name=DEMO_NAME).delete()
            key, secret = ApiKey.generate(DEMO_NAME, Role.OPERATOR)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secret + "\n")
            path.chmod(0o600)
        self.stdout.write(f"Demo operator API key (also in {path}):\n  {secret}")
        self.stdout.write(
            f'Try: curl -H "Authorization: Bearer {secret}" http://localhost:8000/stations'
        )
