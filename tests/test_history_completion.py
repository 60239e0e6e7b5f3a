"""History rows completed with the stations' answers: many rows in one statement run for
each (a bulk operation), values converted as the ORM would (JSON, aware datetimes)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from profiles.models import CompositeScheduleRecord, Outcome
from profiles.services import _COMPLETED_FIELDS, _complete
from stations.models import Station

pytestmark = pytest.mark.django_db

EXTRA = ["schedule", "schedule_start", "matches_preview"]


def _pending(n: int) -> list[CompositeScheduleRecord]:
    rows = []
    for i in range(n):
        station = Station.objects.create(station_id=f"HIST-{i}")
        rows.append(CompositeScheduleRecord.objects.create(
            station=station, connector_id=1, duration=3600, charging_rate_unit="W"))
    return rows


def test_many_rows_are_completed_with_their_own_answers():
    rows = _pending(3)
    now = timezone.now()
    for i, row in enumerate(rows):
        row.outcome = [Outcome.SUCCESS, Outcome.REJECTED, Outcome.ERROR][i]
        row.ocpp_status = ["Accepted", "Rejected", ""][i]
        row.error = ["", "", "Connection timeout"][i]
        row.answered_at = now + timedelta(milliseconds=i)
        row.schedule = {"chargingSchedulePeriod": [{"startPeriod": 0, "limit": 1000.0 * i}],
                        "note": "quote ' and unicode →"} if i < 2 else None
        row.schedule_start = now if i == 0 else None
        row.matches_preview = i == 0
    with CaptureQueriesContext(connection) as queries:
        _complete(CompositeScheduleRecord, rows, [*_COMPLETED_FIELDS, *EXTRA])
    updates = [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) <= 1  # one statement, run for every row (executemany)
    for i, row in enumerate(rows):
        saved = CompositeScheduleRecord.objects.get(pk=row.pk)
        assert (saved.outcome, saved.ocpp_status, saved.error) == (row.outcome,
                                                                  row.ocpp_status, row.error)
        assert saved.answered_at == row.answered_at
        assert saved.schedule == row.schedule
        assert saved.schedule_start == row.schedule_start
        assert saved.matches_preview is (i == 0)


def test_a_failure_in_what_follows_rolls_the_completion_back():
    rows = _pending(2)
    for row in rows:
        row.outcome, row.answered_at = Outcome.SUCCESS, timezone.now()

    def then() -> None:
        raise RuntimeError("the installed record could not be written")

    with pytest.raises(RuntimeError, match="installed record"):
        _complete(CompositeScheduleRecord, rows, _COMPLETED_FIELDS, then)
    assert set(CompositeScheduleRecord.objects.values_list("outcome", flat=True)) == {
        Outcome.PENDING}
