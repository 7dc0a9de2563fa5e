"""The designs compared, each one small class behind ``base.Design``."""

from __future__ import annotations

from .base import Design
from .circuitbreaker_lambda import CurrentRelease
from .pybreaker_fleet import PybreakerFleet
from .read_per_call import ReadPerCall
from .seed_sample import SeedSample
from .this_project import ThisProject

DESIGNS: tuple[type[Design], ...] = (SeedSample, PybreakerFleet, ReadPerCall, ThisProject, CurrentRelease)
BY_KEY = {design.key: design for design in DESIGNS}
