"""snap-store-sim: an offline Snap Store simulator that snapd 2.57's ``snap`` client accepts.

Commands (``snap-store-sim --help``):

* ``serve --data-dir DIR [--host H] [--port P] [--cdn-port N] [--demo] [--latency-ms N]
  [--bandwidth BPS] [--fault NAME=VALUE ...] [--cdn-url URL]``: the Store API and a CDN,
  two uvicorn servers on one event loop. Prints
  ``snap-store-sim ready api=http://H:P cdn=http://H:N`` and writes ``DIR/ready.json``.
* ``add-snap --data-dir DIR NAME [--size 50MiB] [--channel C ...] [--revision N]
  [--arch A] [--version V] [--publisher U] [--type T] [--base B] [--confinement C]
  [--private|--public]``.
* ``import-assertions --data-dir DIR FILE...``: stores signed assertions byte-exact.

The data layout is described in ``layout.py``; the admin API (``/_sim/faults``,
``/_sim/stats``, ``/_sim/reset``, ``/_sim/catalogue``, ``/_sim/health``) in ``admin.py``;
the faults in ``faults.py``.

Private snaps (``add-snap --private``, ``publish.add_snap(..., private=True)``) are seen only
by requests carrying store credentials the simulator accepts: the test user's macaroon
(``access.USER_AUTH_HEADERS``) or a device session it issued (``POST
/api/v1/snaps/auth/sessions``, or ``access.device_authorization(DIR)``). For everyone else they
do not exist; their blobs need a grant at the CDN. Details in ``access.py``.
"""
