"""Synthetic workflow instances from WfCommons recipes (WfChef, Coleman et al. 2022).

`wfcommons:RECIPE:TASKS[:SEED]` (e.g. `wfcommons:montage:60`) generates, offline, an instance of
about TASKS tasks (WfChef replicates the recipe's measured microstructures, so the count is the
upper bound it aims at; each recipe has a smallest size, e.g. 60 for Montage) and imports it as
WfFormat (dssoc.importers.wfformat). The seed is the string's, else the caller's (`--seed`).

WfCommons draws from Python's and numpy's *global* generators; the generation seeds both and
restores their previous states afterwards, so it is reproducible and leaves no trace on other
random streams. Needs the optional `wfcommons` package: `pip install 'soclab[workflows]'`.
"""

from __future__ import annotations

import random
import re
from functools import cache

import numpy as np

from dssoc.errors import ConfigError
from dssoc.importers.common import ImportResult
from dssoc.importers.wfformat import parse_wfformat

PREFIX = "wfcommons:"

#: Recipe names accepted in workload strings -> WfCommons recipe classes.
RECIPES = {
    "blast": "BlastRecipe",
    "bwa": "BwaRecipe",
    "cycles": "CyclesRecipe",
    "epigenomics": "EpigenomicsRecipe",
    "1000genome": "GenomeRecipe",
    "genome": "GenomeRecipe",
    "montage": "MontageRecipe",
    "rnaseq": "RnaseqRecipe",
    "seismology": "SeismologyRecipe",
    "soykb": "SoykbRecipe",
    "srasearch": "SrasearchRecipe",
}


def wfcommons_available() -> bool:
    try:
        import wfcommons  # noqa: F401
    except ImportError:
        return False
    return True


def parse_recipe_ref(ref: str) -> tuple[str, int, int | None]:
    """`wfcommons:RECIPE:TASKS[:SEED]` -> (recipe, tasks, seed or None)."""
    where = f"workload {ref!r}"
    parts = ref[len(PREFIX):].split(":") if ref.startswith(PREFIX) else []
    if len(parts) not in (2, 3):
        raise ConfigError("expected wfcommons:RECIPE:TASKS[:SEED], e.g. wfcommons:montage:60", where)
    recipe = parts[0].lower()
    if recipe not in RECIPES:
        from dssoc.errors import UnknownNameError

        raise UnknownNameError("WfCommons recipe", recipe, RECIPES, where)
    try:
        tasks = int(parts[1])
        seed = int(parts[2]) if len(parts) == 3 else None
    except ValueError:
        raise ConfigError("TASKS and SEED must be integers", where) from None
    if tasks < 1 or (seed is not None and seed < 0):
        raise ConfigError("TASKS must be >= 1 and SEED >= 0", where)
    return recipe, tasks, seed


def generate_instance(recipe: str, tasks: int, seed: int) -> dict:
    """A WfFormat document from WfCommons' recipe, seeded; global random states are restored."""
    try:
        import wfcommons.wfchef.recipes as recipes
        from wfcommons import WorkflowGenerator
    except ImportError:
        raise ConfigError("WfCommons recipes need the optional 'wfcommons' package: "
                          "pip install 'soclab[workflows]'", f"{PREFIX}{recipe}") from None
    cls = getattr(recipes, RECIPES[recipe])
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        random.seed(seed)
        np.random.seed(seed)
        try:
            workflow = WorkflowGenerator(cls.from_num_tasks(tasks)).build_workflow(
                f"{recipe}-{tasks}-s{seed}")
        except ValueError as e:  # e.g. fewer tasks than the recipe's smallest base graph
            smallest = re.search(r"base graph with (\d+) nodes", str(e))
            hint = (f"; the smallest {recipe} graph WfChef can build has {smallest.group(1)} tasks: "
                    f"use {PREFIX}{recipe}:{smallest.group(1)} or more") if smallest else ""
            raise ConfigError(f"WfCommons cannot build it: {e}{hint}", f"{PREFIX}{recipe}:{tasks}") from None
        workflow.generate_json()
        return workflow.workflow_json
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


@cache
def _instance(recipe: str, tasks: int, seed: int) -> ImportResult:
    doc = generate_instance(recipe, tasks, seed)
    source = f"{PREFIX}{recipe}:{tasks}:{seed}"
    return parse_wfformat(doc, source, f"{recipe}-{tasks}-s{seed}")


def recipe_instance(ref: str, seed: int = 0) -> ImportResult:
    """Generate and import `wfcommons:RECIPE:TASKS[:SEED]` (seed from the string, else `seed`)."""
    recipe, tasks, own_seed = parse_recipe_ref(ref)
    return _instance(recipe, tasks, own_seed if own_seed is not None else int(seed))
