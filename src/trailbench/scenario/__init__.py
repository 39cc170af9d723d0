"""Scenario: the validated configuration of one audit, its presets, loading and hashing.

The package is split by concern; everything public is re-exported here, so
``from trailbench.scenario import Scenario, load_scenario`` is the way to import it.

- :mod:`~trailbench.scenario.types`: value types (``Rate``, ``Probabilities3``, ``Weights4``,
  ``Seed``, ``Name``, ...), the base :class:`Section` with its NaN and boolean guards,
  :func:`param`, and the error types.
- :mod:`~trailbench.scenario.schema`: the section models, :class:`Scenario` and its hashes.
- :mod:`~trailbench.scenario.load`: presets, reading TOML files, dotted-key overrides, and
  validation errors formatted one line per problem.
- :mod:`~trailbench.scenario.write`: a resolved scenario written back as TOML.
- :mod:`~trailbench.scenario.table`: :func:`parameter_table`, every parameter with its source.
"""

from __future__ import annotations

from trailbench.scenario.load import (
    MAX_FILE_BYTES,
    PRESETS,
    apply_overrides,
    load_scenario,
    override_keys,
    parse_scenario,
)
from trailbench.scenario.schema import (
    SCHEMA_VERSION,
    AuditConfig,
    ByGroup,
    DocketConfig,
    ErrorsConfig,
    GroupSizes,
    HousingConfig,
    NamesConfig,
    PhonesConfig,
    Scenario,
    SourceConfig,
    SourcesConfig,
    SplinkSystemConfig,
    SystemsConfig,
    TiesConfig,
    WorkConfig,
    WorldConfig,
    period_days,
)
from trailbench.scenario.table import parameter_table
from trailbench.scenario.types import (
    GROUPS,
    NAME_RE,
    SUM_TOLERANCE,
    Command,
    Name,
    Probabilities3,
    Problem,
    Rate,
    ScenarioError,
    Section,
    Seed,
    Weight,
    Weights4,
    param,
)

__all__ = [
    "GROUPS",
    "MAX_FILE_BYTES",
    "NAME_RE",
    "PRESETS",
    "SCHEMA_VERSION",
    "SUM_TOLERANCE",
    "AuditConfig",
    "ByGroup",
    "Command",
    "DocketConfig",
    "ErrorsConfig",
    "GroupSizes",
    "HousingConfig",
    "Name",
    "NamesConfig",
    "PhonesConfig",
    "Probabilities3",
    "Problem",
    "Rate",
    "Scenario",
    "ScenarioError",
    "Section",
    "Seed",
    "SourceConfig",
    "SourcesConfig",
    "SplinkSystemConfig",
    "SystemsConfig",
    "TiesConfig",
    "Weight",
    "Weights4",
    "WorkConfig",
    "WorldConfig",
    "apply_overrides",
    "load_scenario",
    "override_keys",
    "param",
    "parameter_table",
    "parse_scenario",
    "period_days",
]
