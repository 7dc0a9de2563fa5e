"""How often a checker schedule fires, in stack seconds.

EventBridge Scheduler runs the checker on ``rate(N unit)`` or ``cron(m h dom mon dow year)``
(infra/config.py validates both). Locally each schedule becomes a fixed interval, then the
time scale compresses it: a rate is exact; a cron expression runs at its average interval over
a day, counted from its minutes and hours fields (the day, month and year fields are not
simulated: a local run lasts minutes of stack time, not days).
"""

from __future__ import annotations

import re

_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_CRON = re.compile(r"cron\((.*)\)")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}
DAY_S = 86400


class ScheduleError(ValueError):
    """A schedule expression the local stack cannot turn into an interval."""


def interval_s(expression: str) -> float:
    """Seconds between two runs of ``expression`` (stack time, before compression)."""
    rate = _RATE.fullmatch(expression)
    if rate:
        count = int(rate[1])
        if count < 1:
            raise ScheduleError(f"{expression}: a rate must be at least 1")
        return count * _UNIT_S[rate[2].rstrip("s")]
    cron = _CRON.fullmatch(expression)
    if cron:
        fields = cron[1].split()
        if len(fields) != 6:
            raise ScheduleError(f"{expression}: a cron expression has 6 fields")
        minutes = _expand(fields[0], 0, 59, expression)
        hours = _expand(fields[1], 0, 23, expression)
        return DAY_S / (len(minutes) * len(hours))
    raise ScheduleError(f"{expression}: expected rate(N unit) or cron(6 fields)")


def _expand(field: str, low: int, high: int, expression: str) -> set[int]:
    """The values one cron field matches: ``*``, ``N``, ``A-B``, each with an optional ``/step``, in a list."""
    values: set[int] = set()
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if span in ("*", "?"):
                first, last = low, high
            elif "-" in span:
                first, last = (int(bound) for bound in span.split("-", 1))
            else:
                first = int(span)
                last = high if step_text else first
        except ValueError:
            raise ScheduleError(f"{expression}: cannot read the field {field!r}") from None
        if step < 1 or not low <= first <= last <= high:
            raise ScheduleError(f"{expression}: field {field!r} is outside {low}-{high}")
        values.update(range(first, last + 1, step))
    return values
