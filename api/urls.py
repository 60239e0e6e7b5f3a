from django.urls import path

from api import views
from api.bulk_views import BulkChargingProfileView

urlpatterns = [
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
    path("charging_profiles/bulk", BulkChargingProfileView.as_view(), name="bulk-profiles"),
    path("stations/<str:station_id>/logs", views.StationLogsView.as_view(), name="station-logs"),
]
