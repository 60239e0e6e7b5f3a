"""Routes of the history API (filled in by api/history.py)."""

urlpatterns: list = []
