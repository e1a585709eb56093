"""Experiment specs: reading and validating the YAML a researcher writes (`experiments/*.yaml`).

The schema lives in `soclab.spec_schema` (re-exported here); `load_spec` and `spec_from_dict`
check it and then every name and value the spec uses (`soclab.validation.check_spec`). The
schema module imports neither validation nor cells, so spec -> validation -> cells -> schema
has no way back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dssoc.errors import ConfigError
from dssoc.schemas import format_validation_error, load_yaml, read_text
from soclab.spec_schema import (
    AGENT_AXIS_PREFIX,
    POINT_AXES,
    SIMULATION_DEFAULTS,
    AgentSpec,
    AxesSpec,
    BudgetSpec,
    ExperimentSpec,
    MetricsSpec,
    ReportSpec,
    SeedRange,
    SimulationBlock,
    SpecError,
    TrackingSpec,
    TuneSpec,
    axis_kind,
)

__all__ = ["AGENT_AXIS_PREFIX", "POINT_AXES", "SIMULATION_DEFAULTS", "AgentSpec", "AxesSpec",
           "BudgetSpec", "ExperimentSpec", "MetricsSpec", "ReportSpec", "SeedRange",
           "SimulationBlock", "SpecError", "TrackingSpec", "TuneSpec", "axis_kind", "load_spec",
           "spec_from_dict"]


def load_spec(path: str | Path) -> ExperimentSpec:
    """Read and validate a spec; errors name the file (and line, for YAML errors and duplicate
    keys), the key path and the reason."""
    path = Path(path)
    try:
        doc = load_yaml(read_text(path, "spec file"), str(path))
    except ConfigError as e:
        raise SpecError(e.reason, e.where) from None
    if not isinstance(doc, dict):
        raise SpecError("expected a mapping at the top level", str(path))
    doc.setdefault("name", path.stem)
    return spec_from_dict(doc, str(path))


def spec_from_dict(doc: dict[str, Any], where: str = "spec") -> ExperimentSpec:
    """Validate a spec document: its schema, then every name and value it uses
    (`soclab.validation.check_spec`), before anything runs."""
    from soclab.validation import check_spec

    try:
        spec = ExperimentSpec.model_validate(doc)
        check_spec(spec)
    except ValidationError as e:
        raise SpecError(format_validation_error(e, "", doc).reason, where) from None
    except ConfigError as e:  # raised by check_spec, or inside validators (unknown scheduler, noise)
        raise SpecError(str(e), where) from None
    return spec
