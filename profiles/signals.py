"""Ends the calls a stopped server process left pending: they become ``error`` rows
saying they were interrupted, never stay pending forever."""

from __future__ import annotations

import logging
from datetime import datetime

from django.dispatch import receiver
from django.utils import timezone

from profiles import installed
from profiles.models import (
    INTERRUPTED,
    ChargingProfileRecord,
    ClearRequest,
    CompositeScheduleRecord,
    Outcome,
)
from stations.presence import nodes_reaped
from stations.signals import transaction_stopped

logger = logging.getLogger(__name__)


@receiver(nodes_reaped)
def interrupt_orphaned_calls(
    sender, live_nodes: frozenset[str], expired_before: datetime, **kwargs
) -> None:
    now = timezone.now()
    for model in (ChargingProfileRecord, ClearRequest, CompositeScheduleRecord):
        count = (
            model.objects.filter(outcome=Outcome.PENDING, requested_at__lt=expired_before)
            .exclude(node__in=live_nodes)
            .update(outcome=Outcome.ERROR, error=INTERRUPTED, answered_at=now)
        )
        if count:
            logger.warning("%s pending %s rows marked interrupted", count, model.__name__)


@receiver(transaction_stopped)
def end_transaction_profiles(
    sender, station_id: str, transaction_id: int, connector_id: int, **kwargs
) -> None:
    installed.drop_transaction_profiles(station_id, transaction_id, connector_id)
