from django.urls import include, path

from api import views
from api.bulk_views import BulkChargingProfileView
from api.profile_views import (
    InstalledProfilesView,
    ResyncView,
    SchedulePreviewView,
    TestProfilesView,
)
from api.simulator_views import SimulatedEvView, SimulatedStationsView, SimulatedStationView

urlpatterns = [
    path("", include("api.history_urls")),
    path("health", views.HealthView.as_view(), name="health"),
    path("stations", views.StationListView.as_view(), name="station-list"),
    path("stations/<str:station_id>", views.StationDetailView.as_view(), name="station-detail"),
    path(
        "stations/<str:station_id>/charging_profile",
        views.ChargingProfileView.as_view(),
        name="charging-profile",
    ),
    path(
        "stations/<str:station_id>/composite_schedule",
        views.CompositeScheduleView.as_view(),
        name="composite-schedule",
    ),
    path("simulator/stations", SimulatedStationsView.as_view(), name="simulator-stations"),
    path("simulator/stations/<str:station_id>", SimulatedStationView.as_view(),
         name="simulator-station"),
    path("simulator/stations/<str:station_id>/ev", SimulatedEvView.as_view(),
         name="simulator-ev"),
    path("charging_profiles/bulk", BulkChargingProfileView.as_view(), name="bulk-profiles"),
    path("stations/<str:station_id>/test_profiles", TestProfilesView.as_view(),
         name="test-profiles"),
    path("stations/<str:station_id>/charging_profiles", InstalledProfilesView.as_view(),
         name="installed-profiles"),
    path("stations/<str:station_id>/charging_profiles/resync", ResyncView.as_view(),
         name="resync-profiles"),
    path("stations/<str:station_id>/schedule_preview", SchedulePreviewView.as_view(),
         name="schedule-preview"),
    path("stations/<str:station_id>/logs", views.StationLogsView.as_view(), name="station-logs"),
]
