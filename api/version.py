"""The FlexMeasures release whose API flexledger matches (``GET /api/`` and a response header).

Clients gate features on it: flexmeasures-client uses ``/api/v3_0/jobs/<id>`` for servers
reporting 0.33 or newer.
"""

FLEXMEASURES_VERSION = "0.31.0"
