"""A local stand-in for the Laaffic voice API, for tests, demos and benchmarks.

``LaafficSimulator`` serves ``POST /v3/voice/recordSipQuery`` over real HTTP with deterministic
synthetic records, each call once it has ended at the simulator's clock; ``FaultConfig`` chooses
how it misbehaves; ``SettableClock`` is a clock a test moves, shared with the code under test.
"""

from laaffic_pipeline.simulator.clock import SettableClock
from laaffic_pipeline.simulator.faults import FaultConfig
from laaffic_pipeline.simulator.server import LaafficSimulator

__all__ = ["FaultConfig", "LaafficSimulator", "SettableClock"]
