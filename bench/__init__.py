"""Benchmark of the CSMS on one machine: ``python -m bench --stations 10000``.

It starts the server as production runs it (``manage.py serve``), connects simulated
stations from separate processes, measures boot, memory, event-loop lag, REST round
trips, bulk and isolation, compares SetChargingProfile with a bare ``ocpp`` +
``websockets`` central system on the same kind of stations, and writes JSON and
``BENCHMARKS.md``. Modules: ``procs`` (child processes, /proc), ``server`` (the CSMS
processes and their database), ``stations`` (simulator processes), ``baseline`` (the
bare central system), ``load`` (load loops and percentiles), ``run`` (the phases),
``report`` (Markdown and JSON).
"""
