"""The admin web dashboard (``/dashboard/``), served by devicegw through both gateways.

Caller: the admin, signed in with the admin token (a signed session cookie). It reads and
acts only through the admin API, as ``snap-proxy`` commands do (``admin_api``): no SQL here.
"""
