"""Entry point: ``python -m circuit_breaker_extension`` (what the layer's launcher runs)."""

from circuit_breaker_extension.lifecycle import run

run()
