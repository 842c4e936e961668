"""``attune worker`` outlives outages of its store.

procrastinate stops a worker when one of its side tasks (heartbeat, listener, deferrer) fails,
as they do when PostgreSQL is away for longer than a heartbeat, and then raises when it cannot
unregister itself. A registry's worker is a daemon: it says so in one line and starts again,
after a pause that doubles from 1 s to at most 30 s, until SIGTERM or SIGINT. Signals keep
their meaning: the first stops gracefully (running suites finish), the next one acts as it
did before the worker started.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from attune_registry.adapters.observability.logs import quiet_side_task_failures

if TYPE_CHECKING:
    import procrastinate

log = logging.getLogger("attune.worker")

FIRST_PAUSE = 1.0
LONGEST_PAUSE = 30.0
# A run that lasted this long was healthy: the next outage starts again from the first pause.
HEALTHY_RUN = 60.0


def run_until_stopped(app: procrastinate.App, name: str, **options: Any) -> None:
    """Run procrastinate's worker ``name`` on ``app`` until a signal, starting it again
    whenever it stops on its own."""
    quiet_side_task_failures(name)
    asyncio.run(_serve(app, {**options, "name": name, "install_signal_handlers": False}))


async def _serve(app: procrastinate.App, options: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    stop, restore = _stop_on_signals(loop)
    pause = FIRST_PAUSE
    try:
        async with app.open_async():
            while True:
                started = loop.time()
                problem = await _one_run(app, options, stop)
                if stop.is_set():
                    return
                if loop.time() - started >= HEALTHY_RUN:
                    pause = FIRST_PAUSE
                log.warning("worker stopped (%s); starting again in %g s", problem, pause)
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
                if stop.is_set():
                    return
                pause = min(pause * 2, LONGEST_PAUSE)
    finally:
        restore()


async def _one_run(app: procrastinate.App, options: dict[str, Any],
                   stop: asyncio.Event) -> str | None:
    """One run of the worker, until it stops on its own (returns why) or ``stop`` is set
    (returns None once running suites have finished)."""
    worker = asyncio.create_task(app.run_worker_async(**options))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({worker, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if not worker.done():
        worker.cancel()  # procrastinate's graceful stop: the suites it runs finish first
    try:
        await worker
    except asyncio.CancelledError:
        if not stop.is_set():
            raise
        return None
    except Exception as exc:  # the store went away mid-run, or on the way out
        cause = exc.__cause__ or exc
        text = " ".join(str(cause).split()) or type(cause).__name__
        return f"{type(cause).__name__}: {text}"
    return "a side task failed"


def _stop_on_signals(loop: asyncio.AbstractEventLoop) -> tuple[asyncio.Event, Any]:
    """An event set by the first SIGINT or SIGTERM, and a function that puts the handlers
    from before back (done at the first signal, so the next one acts as they do)."""
    stop = asyncio.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    restored = False

    def restore() -> None:
        nonlocal restored
        if restored:
            return
        restored = True
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, handler)

    def first_signal() -> None:
        restore()
        stop.set()

    for sig in previous:
        loop.add_signal_handler(sig, first_signal)
    return stop, restore
