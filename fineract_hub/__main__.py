"""``python -m fineract_hub worker`` runs the Faust worker with its web server.

Settings are validated before Faust starts so a bad environment fails with one clear message.
"""

from __future__ import annotations

import os
import sys

from fineract_hub.errors import ConfigError


def main() -> None:
    from fineract_hub.config import Settings

    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"fineract-hub: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    import asyncio

    from fineract_hub.streams.topics import ensure_topics

    try:
        if "worker" in sys.argv[1:]:
            asyncio.run(ensure_topics(settings))
    except Exception as exc:  # broker unreachable: Faust retries and /health reports it
        print(f"fineract-hub: could not check topics ({exc}); continuing", file=sys.stderr)
    # Faust picks its event loop when it is first imported, from F_LOOP.
    os.environ.setdefault("F_LOOP", "" if settings.event_loop == "asyncio" else settings.event_loop)
    from fineract_hub.app import create_app

    try:
        app, _hub = create_app(settings)
    except ConfigError as exc:
        print(f"fineract-hub: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    _tune_garbage_collector()
    app.main()


def _tune_garbage_collector() -> None:
    """Every delivery allocates a few hundred short-lived objects (request, response, futures);
    with CPython's default thresholds the collector then keeps re-scanning the long-lived heap
    of imported modules, Faust and aiokafka. Freezing what start-up created and collecting the
    young generation less often buys throughput; the older generations keep CPython's ratios, so
    cycles left by long-lived delivery tasks (exception, traceback, frame) are still collected."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


if __name__ == "__main__":
    main()
