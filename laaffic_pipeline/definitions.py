"""The code location: the definitions of ``defs/``, built from the ``LAAFFIC_*`` settings.

The settings are read here, once, when Dagster loads the code location (``settings.py``).
"""

import os

import dagster as dg

from laaffic_pipeline.defs import build_definitions
from laaffic_pipeline.settings import PipelineSettings


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(PipelineSettings.from_env(), os.environ)
