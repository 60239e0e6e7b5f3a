"""Signals other apps listen to, so that stations/ need not know about them."""

from django.dispatch import Signal

#: Sent when a station ends a transaction: ``station_id``, ``transaction_id``, ``connector_id``.
transaction_stopped = Signal()
