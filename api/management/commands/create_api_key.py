"""Create an API key and print it (the only time it is shown).

    python manage.py create_api_key ops-team --role operator
"""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from api.models import ApiKey, Role


class Command(BaseCommand):
    help = "Create an API key for the REST API and event stream; prints the key once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="who or what the key is for (unique)")
        parser.add_argument("--role", choices=[r.value for r in Role], default=Role.VIEWER)
        parser.add_argument("--quiet", action="store_true", help="print only the key")

    def handle(self, *args, name: str, role: str, quiet: bool, **options) -> None:
        if ApiKey.objects.filter(name=name).exists():
            raise CommandError(f"An API key named {name!r} exists already")
        key, secret = ApiKey.generate(name, role)
        if quiet:
            self.stdout.write(secret)
            return
        self.stdout.write(f"API key {key.name!r} ({key.role}) created. It is shown only now:")
        self.stdout.write(secret)
        self.stdout.write(f'Use it as: curl -H "Authorization: Bearer {secret}" ...')
