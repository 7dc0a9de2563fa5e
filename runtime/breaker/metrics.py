"""CloudWatch Embedded Metric Format (EMF): metrics carried by a JSON log line.

The checker and the extension both write one JSON object per stdout line, which Lambda ships to
CloudWatch Logs; a line that also holds an ``_aws`` member becomes metrics there, with no
PutMetricData call and no extra permission. Both emit into one namespace and dimension, so one
alarm per circuit sees a trip whoever caused it.

The format (CloudWatch's "Specification: Embedded metric format"): ``_aws`` holds ``Timestamp``
(epoch milliseconds) and ``CloudWatchMetrics``, a list of directives each naming a
``Namespace``, ``Dimensions`` (a list of dimension sets, each a list of root member names with
string values) and ``Metrics`` (``Name`` and ``Unit``); every name referenced is a root member,
and metric values are numbers.
"""

from __future__ import annotations

from typing import Any, Mapping

NAMESPACE = "CircuitBreaker"
DIMENSION = "CircuitId"
OPENED = "CircuitOpened"  # the metric each circuit's alarm watches
TRANSITION = "StateTransition"
DROPPED = "ReportsDropped"  # outcomes the table refused for good (access denied, validation)


def emf(circuit_id: str, at_ms: int, values: Mapping[str, tuple[float, str]]) -> dict[str, Any]:
    """The members to merge into a log line: ``values`` maps a metric name to (value, unit)."""
    directive = {
        "Namespace": NAMESPACE,
        "Dimensions": [[DIMENSION]],
        "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in values.items()],
    }
    return {
        "_aws": {"Timestamp": at_ms, "CloudWatchMetrics": [directive]},
        DIMENSION: circuit_id,
        **{name: value for name, (value, _) in values.items()},
    }
