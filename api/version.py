"""The FlexMeasures release whose API flexledger matches (``GET /api/`` and a response header).

Clients gate features on it. With flexmeasures-client 0.9, 0.33.0 is the version at which both
the schedule and the forecast flows work against flexledger: for servers reporting 0.33 or newer
the client waits on ``GET /api/v3_0/jobs/<id>`` (served here) before fetching a schedule or a
forecast, passes ``unit`` to ``GET /sensors/<id>/schedules/<uuid>`` (>= 0.32), and triggers
schedules for a sensor through the asset endpoint with ``force-new-job-creation`` (>= 0.33).
Older reported versions make the client poll the result endpoints with 10 s back-off instead.
"""

FLEXMEASURES_VERSION = "0.33.0"
