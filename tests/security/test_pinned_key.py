"""A key found in the cache just before authentication is used as found: authentication
may run on the event loop, where the entry expiring in between (a garbage-collection
pause is enough) would have meant a database query there, and an HTTP 500."""

import pytest
from django.test import RequestFactory
from rest_framework.request import Request

from api import authentication
from api.models import ApiKey

pytestmark = pytest.mark.django_db


def test_a_pinned_key_authenticates_without_a_query(django_assert_num_queries):
    key, secret = ApiKey.generate("pinned", "operator")
    request = Request(RequestFactory().get("/stations", HTTP_AUTHORIZATION=f"Bearer {secret}"))
    authentication._cache.clear()  # expired meanwhile
    authentication.pin(request._request, secret, key)
    with django_assert_num_queries(0):
        user, found = authentication.ApiKeyAuthentication().authenticate(request)
    assert found.pk == key.pk
    assert user.role == "operator"


def test_a_key_pinned_for_another_secret_is_not_used():
    key, secret = ApiKey.generate("pinned", "operator")
    other, other_secret = ApiKey.generate("other", "viewer")
    request = Request(RequestFactory().get("/stations", HTTP_AUTHORIZATION=f"Bearer {secret}"))
    authentication.pin(request._request, other_secret, other)
    _, found = authentication.ApiKeyAuthentication().authenticate(request)
    assert found.pk == key.pk
