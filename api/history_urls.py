"""Routes of the history API (views in api/history.py)."""

from django.urls import path

from api import history

urlpatterns = [
    path(
        "stations/<str:station_id>/profile_history",
        history.StationProfileHistoryView.as_view(),
        name="station-profile-history",
    ),
    path(
        "stations/<str:station_id>/composite_schedules",
        history.StationCompositeScheduleHistoryView.as_view(),
        name="station-composite-schedule-history",
    ),
    path(
        "stations/<str:station_id>/clears",
        history.StationClearHistoryView.as_view(),
        name="station-clear-history",
    ),
    path(
        "charging_profiles/history",
        history.ProfileHistoryView.as_view(),
        name="profile-history",
    ),
]
