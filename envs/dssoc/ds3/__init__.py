"""Importer for the text configurations of DS3 (Arda et al. 2020) and gym-ds3, one module per
file kind.

- `dssoc.ds3.soc_file`: `SoC.*.txt` resource files -> `read_ds3_soc`
- `dssoc.ds3.job_file`: `job_*.txt` application DAGs -> `read_ds3_job`
- `dssoc.ds3.config_file`: `config_file.ini` run configurations -> `read_ds3_config`, `Ds3Config`

Each reader reproduces the DS3 parser's semantics (documented per function). Every malformed
input raises `ConfigError` naming `file:line` and what was expected.
"""

from __future__ import annotations

from dssoc.ds3.config_file import Ds3Config, read_ds3_config
from dssoc.ds3.job_file import read_ds3_job
from dssoc.ds3.soc_file import PSEUDO_RESOURCE_TYPES, read_ds3_soc

__all__ = ["PSEUDO_RESOURCE_TYPES", "Ds3Config", "read_ds3_config", "read_ds3_job", "read_ds3_soc"]
