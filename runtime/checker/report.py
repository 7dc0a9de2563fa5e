"""What one checker run tells the world: the summary, the log line, the CloudWatch metrics.

Pure formatting, so the exact shapes are tested without capturing output. The log line is
also the metrics document (Embedded Metric Format, see ``breaker.metrics``), which keeps one
line per probe and costs no PutMetricData call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from breaker.machine import Outcome, State
from breaker.metrics import OPENED, TRANSITION, emf


@dataclass(frozen=True)
class CheckReport:
    circuit_id: str
    at_ms: int  # when the run settled, epoch milliseconds (the metrics' timestamp)
    state_before: State  # the state the outcome was applied to, as readers saw it
    state_after: State
    version: int  # the record's version after this run
    changed: bool = False  # this run's own write changed the state (another's may have, too)
    outcome: Optional[Outcome] = None  # None when the probe was skipped
    status: Optional[int] = None
    latency_ms: Optional[float] = None
    error: Optional[str] = None
    skipped: Optional[str] = None  # why no probe was made

    @property
    def transitioned(self) -> bool:
        return self.changed

    @property
    def opened(self) -> bool:
        """This run moved the circuit to OPEN: a trip from CLOSED, or a failed trial in HALF_OPEN."""
        return self.changed and self.state_after is State.OPEN


def summary(report: CheckReport) -> dict[str, Any]:
    """The handler's return value, and the body of the log line."""
    return {
        "circuit": report.circuit_id,
        "probed": report.outcome is not None,
        "outcome": report.outcome.value if report.outcome else None,
        "status": report.status,
        "latency_ms": None if report.latency_ms is None else round(report.latency_ms, 1),
        "error": report.error,
        "skipped": report.skipped,
        "state_before": report.state_before.value,
        "state_after": report.state_after.value,
        "transition": report.transitioned,
        "version": report.version,
    }


def metrics(report: CheckReport) -> dict[str, Any]:
    """The EMF members for a probe. ``CircuitOpened`` is sent on every probe (0 or 1) so an
    alarm on it always has data; ``StateTransition`` only when the state changed."""
    assert report.outcome is not None and report.latency_ms is not None, "a skipped probe has no metrics"
    values: dict[str, tuple[float, str]] = {
        "ProbeLatency": (round(report.latency_ms, 1), "Milliseconds"),
        "ProbeFailure": (int(report.outcome is not Outcome.SUCCESS), "Count"),  # slow counts, as in the breaker
        OPENED: (int(report.opened), "Count"),
    }
    if report.transitioned:
        values[TRANSITION] = (1, "Count")
    return emf(report.circuit_id, report.at_ms, values)


def log_record(report: CheckReport) -> dict[str, Any]:
    """The one JSON line a run writes: the summary, plus the metrics when a probe was made."""
    failed = report.outcome not in (None, Outcome.SUCCESS)
    record = {"level": "WARN" if failed else "INFO", "message": "probe", **summary(report)}
    if report.outcome is not None:
        record.update(metrics(report))
    return record
