"""CloudWatch Embedded Metric Format (EMF): metrics carried by a JSON log line.

The checker and the extension both write one JSON object per stdout line, which Lambda ships to
CloudWatch Logs; a line that also holds an ``_aws`` member becomes metrics there, with no
PutMetricData call and no extra permission. Both emit into one namespace with the same
dimensions, so one alarm per circuit sees a trip whoever caused it.

The format (CloudWatch's "Specification: Embedded metric format"): ``_aws`` holds ``Timestamp``
(epoch milliseconds) and ``CloudWatchMetrics``, a list of directives each naming a
``Namespace``, ``Dimensions`` (a list of dimension sets, each a list of root member names with
string values) and ``Metrics`` (``Name`` and ``Unit``); every name referenced is a root member,
and metric values are numbers.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Optional

NAMESPACE = "CircuitBreaker"
DIMENSION = "CircuitId"
# The circuits table the circuit lives in: unique per account and region, so a stack's alarm
# never matches another stack's circuit of the same id. Read from the variable that the checker
# and every business function (and so its extension) already carry.
TABLE_DIMENSION = "Table"
TABLE_VARIABLE = "CIRCUIT_BREAKER_TABLE"
OPENED = "CircuitOpened"  # the metric each circuit's alarm watches
TRANSITION = "StateTransition"
DROPPED = "ReportsDropped"  # outcomes the table refused for good (access denied, validation)


def alarm_dimensions(circuit_id: str, table: Any) -> dict[str, Any]:
    """The dimensions of the one metric a circuit's alarm watches (``table`` may be an Output)."""
    return {DIMENSION: circuit_id, TABLE_DIMENSION: table}


def emf(
    circuit_id: str, at_ms: int, values: Mapping[str, tuple[float, str]], table: Optional[str] = None
) -> dict[str, Any]:
    """The members to merge into a log line: ``values`` maps a metric name to (value, unit).

    ``table`` defaults to ``$CIRCUIT_BREAKER_TABLE``. One directive, dimensions ``Table`` +
    ``CircuitId``: this stack's circuit, which is what its alarm watches (:func:`alarm_dimensions`).
    Every deployed function has the table variable (the checker and the extension refuse to start
    without it); code run outside Lambda without it (the benchmarks' simulation) emits
    ``CircuitId`` alone.
    """
    table = table or os.environ.get(TABLE_VARIABLE)
    dimensions = [TABLE_DIMENSION, DIMENSION] if table else [DIMENSION]
    directive = {
        "Namespace": NAMESPACE,
        "Dimensions": [dimensions],
        "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in values.items()],
    }
    return {
        "_aws": {"Timestamp": at_ms, "CloudWatchMetrics": [directive]},
        DIMENSION: circuit_id,
        **({TABLE_DIMENSION: table} if table else {}),
        **{name: value for name, (value, _) in values.items()},
    }
