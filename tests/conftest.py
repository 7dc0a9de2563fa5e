"""Shared test set-up: the Hypothesis profiles.

``ci`` (the default) keeps the whole suite inside CI's budget; ``thorough`` runs far more
examples and longer rule sequences. Pick one with ``HYPOTHESIS_PROFILE=thorough``
(``make test-thorough`` does).
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=60, stateful_step_count=40, deadline=None)
settings.register_profile(
    "thorough",
    max_examples=2000,
    stateful_step_count=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
