"""A station that goes away while the CSMS writes its answer is not an error of the CSMS:
the frame's handler must not log a traceback or try to send a CALLERROR on the dead
connection; the consumer notes it at INFO and the disconnect follows."""

from __future__ import annotations

import logging

import pytest

from stations.central_system import CentralSystem


class _GoneConnection:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, message: str) -> None:
        self.sent.append(message)
        raise ConnectionResetError("the station went away")  # as uvicorn's ClientDisconnected

    async def recv(self) -> str:  # pragma: no cover - never read here
        raise AssertionError


async def test_an_answer_to_a_gone_station_is_not_logged_as_an_error(caplog):
    connection = _GoneConnection()
    station = CentralSystem("GONE-1", connection)
    caplog.set_level(logging.INFO)
    with pytest.raises(ConnectionResetError, match="went away"):
        await station.route_frame('[2,"id-1","Heartbeat",{}]')
    assert len(connection.sent) == 1  # the answer only, no CALLERROR after it
    assert connection.sent[0].startswith("[3,")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
