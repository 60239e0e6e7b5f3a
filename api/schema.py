"""OpenAPI description of the API key authentication, so /docs has an Authorize button."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiKeyAuthentication"
    name = ["BearerKey", "HeaderKey"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <key>"},
            {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        ]

    def get_security_requirement(self, auto_schema) -> list[dict[str, list]]:
        # Alternatives, not one requirement naming both: in OpenAPI a requirement with
        # two schemes means both headers at once, and either header alone suffices.
        return [{name: []} for name in self.name]
