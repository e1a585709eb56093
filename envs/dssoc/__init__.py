"""dssoc: a fast, DS3-faithful, event-driven simulator of DAG jobs streaming onto a heterogeneous
SoC, with reference workloads, noise models, heuristic schedulers and validated metrics.

    >>> import dssoc
    >>> cfg = dssoc.SimConfig.build("wifi-tx-rx", rate_jobs_per_ms=5, duration_us=20_000)
    >>> dssoc.simulate(cfg, scheduler="ETF", seed=1).avg_latency_us  # doctest: +SKIP
"""

from dssoc.catalog import builtin_names, load_application, load_soc, load_workload
from dssoc.config import SimConfig
from dssoc.engine import Simulation
from dssoc.errors import (
    ConfigError,
    DssocError,
    InvalidActionError,
    InvalidDAGError,
    SchedulerError,
    UnknownNameError,
    UnsupportedTaskError,
)
from dssoc.metrics import SimResult
from dssoc.model import Application, Cluster, SoC, Task, Workload
from dssoc.noise import parse_noise
from dssoc.schedulers import Scheduler, make_scheduler, register, scheduler_binding, scheduler_names
from dssoc.simulate import simulate

__version__ = "0.1.0"

ENV_ID = "dssoc/SoCSched-v0"
ENV_ID_V1 = "dssoc/SoCSched-v1"


def _register_env() -> None:
    """Register the Gymnasium environments by entry-point string, so `import dssoc` is enough for
    `gym.make(ENV_ID)` without importing the environment's modules until it is made."""
    import warnings

    from gymnasium.envs.registration import register as register_env
    from gymnasium.envs.registration import registry

    if ENV_ID not in registry:
        register_env(id=ENV_ID, entry_point="dssoc.env.soc_sched:SoCSchedEnv")
    if ENV_ID_V1 not in registry:
        register_env(id=ENV_ID_V1, entry_point="dssoc.env.late_env:LateSoCSchedEnv")
    # v1 is a second semantics (late binding), not a fix of v0: silence gymnasium's "v0 is out of
    # date, consider upgrading to v1" warning for this id only.
    warnings.filterwarnings("ignore", message=r".*dssoc/SoCSched-v0 is out of date")


_register_env()

__all__ = [
    "ENV_ID",
    "ENV_ID_V1",
    "Application",
    "Cluster",
    "ConfigError",
    "DssocError",
    "InvalidActionError",
    "InvalidDAGError",
    "Scheduler",
    "SchedulerError",
    "SimConfig",
    "SimResult",
    "Simulation",
    "SoC",
    "Task",
    "UnknownNameError",
    "UnsupportedTaskError",
    "Workload",
    "builtin_names",
    "load_application",
    "load_soc",
    "load_workload",
    "make_scheduler",
    "parse_noise",
    "register",
    "scheduler_binding",
    "scheduler_names",
    "simulate",
]
