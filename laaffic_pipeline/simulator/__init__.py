"""A local stand-in for the Laaffic voice API, for tests, demos and benchmarks.

``LaafficSimulator`` serves ``POST /v3/voice/recordSipQuery`` over real HTTP with deterministic
synthetic records; ``FaultConfig`` chooses how it misbehaves.
"""

from laaffic_pipeline.simulator.faults import FaultConfig
from laaffic_pipeline.simulator.server import LaafficSimulator

__all__ = ["FaultConfig", "LaafficSimulator"]
