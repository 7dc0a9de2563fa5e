"""What the local stack's tests share: the repository's paths and a minimal stack file."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEV_STACK = ROOT / "Pulumi.dev.yaml"

# One healthy mock service: the smallest fleet the default scenario runs on.
PAYMENTS_ONLY = """\
config:
  circuit-breaker:environment: ci
  circuit-breaker:services:
    payments:
      mock:
        mode: healthy
"""
