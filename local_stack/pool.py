"""Execution environments of one function, each serving one invoke at a time, as in Lambda.

Lambda runs as many environments of a function as its concurrent invocations need. Locally a
pool has a fixed size (``--environments`` per business function, one per checker schedule), and
an invocation that finds every environment busy is refused and counted rather than queued, so
the machine's load stays bounded. An environment that Lambda would reset (a timeout, a crash) is
replaced by a new one, cold start included, as Lambda would do on the next invocation.
"""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional

from local_aws.emulator import EmulatorError, EnvironmentClosedError, ExecutionEnvironment, InvokeResult, ProcessInfo

# What an invocation came to: the result, or why there was none.
Done = Callable[[Optional[InvokeResult], Optional[EmulatorError]], None]


def in_parallel(tasks: list[Callable[[], None]]) -> None:
    """Run ``tasks`` in threads, wait for all of them, then raise the first error, if any."""
    errors: list[BaseException] = []

    def run(task: Callable[[], None]) -> None:
        try:
            task()
        except BaseException as error:  # re-raised below, in the caller's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(task,), daemon=True) for task in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


class _Slot:
    def __init__(self, environment: ExecutionEnvironment) -> None:
        self.environment = environment
        self.busy = threading.Lock()


class EnvironmentPool:
    def __init__(self, make: Callable[[int], ExecutionEnvironment], size: int) -> None:
        if size < 1:
            raise ValueError(f"a pool needs at least one environment, got {size}")
        self._make = make
        self._numbers = itertools.count()
        self._slots = [_Slot(make(next(self._numbers))) for _ in range(size)]
        self._created = [slot.environment for slot in self._slots]
        self._turn = itertools.count()
        self._stopping = threading.Event()
        self._executor = ThreadPoolExecutor(max_workers=size)
        self.replaced = 0  # environments reset by a timeout or crash and started again

    def start(self) -> None:
        """The init phase of every environment, in parallel; the first failure is raised."""
        in_parallel([slot.environment.start for slot in self._slots])

    def try_invoke(self, event: Any, done: Done) -> bool:
        """Start an invocation on an idle environment (taking turns); False when all are busy."""
        if self._stopping.is_set():
            return False
        first = next(self._turn)
        for offset in range(len(self._slots)):
            slot = self._slots[(first + offset) % len(self._slots)]
            if slot.busy.acquire(blocking=False):
                self._executor.submit(self._invoke, slot, event, done)
                return True
        return False

    def drain(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for the invocations in flight to end (none start meanwhile)."""
        self._stopping.set()
        deadline = time.monotonic() + timeout_s
        for slot in self._slots:
            remaining = deadline - time.monotonic()
            if remaining > 0 and slot.busy.acquire(timeout=remaining):
                slot.busy.release()

    def shutdown(self) -> None:
        """SHUTDOWN to every environment, in parallel; returns with every process reaped."""
        self._stopping.set()
        in_parallel([environment.shutdown for environment in self.environments])
        self._executor.shutdown(wait=True)

    @property
    def environments(self) -> list[ExecutionEnvironment]:
        """Every environment this pool started, replaced ones included."""
        return list(self._created)

    def processes(self) -> list[ProcessInfo]:
        return [process for environment in self.environments for process in environment.processes]

    def _invoke(self, slot: _Slot, event: Any, done: Done) -> None:
        try:
            try:
                result = slot.environment.invoke(event)
            except EnvironmentClosedError as error:
                if not self._stopping.is_set():  # cut short by the shutdown: not the function's doing
                    done(None, error)
                return
            except EmulatorError as error:
                done(None, error)
                return
            done(result, None)
            if result.reset is not None and not self._stopping.is_set():
                self._replace(slot)
        finally:
            slot.busy.release()

    def _replace(self, slot: _Slot) -> None:
        environment = self._make(next(self._numbers))
        self._created.append(environment)
        slot.environment = environment
        self.replaced += 1
        try:
            environment.start()
        except EmulatorError:
            pass  # the environment is closed: its invocations fail and are counted as errors
