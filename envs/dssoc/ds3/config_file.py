"""DS3 run configurations (`config_file.ini`) into a `Ds3Config`, with the SoC and job files
they name read by `dssoc.ds3.soc_file` and `dssoc.ds3.job_file`.

`read_ds3_config` is a few named steps: parse the ini (`_Ini` answers key lookups with the
key's line for errors), read the SoC and applications, the mix, then the run parameters.
"""

from __future__ import annotations

import configparser
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from dssoc import checks
from dssoc.config import SimConfig
from dssoc.ds3._tokens import parse_int, parse_number, read_text
from dssoc.ds3.job_file import read_ds3_job
from dssoc.ds3.soc_file import read_ds3_soc
from dssoc.errors import ConfigError, UnsupportedTaskError
from dssoc.model import Application, SoC, Workload


@dataclass(frozen=True)
class Ds3Config:
    """A DS3 `config_file.ini`: the SoC, the application mix and the run parameters.

    `scale_us` is `[SIMULATION MODE] scale` (DS3 uses it in validation mode); `scale_values` is
    the performance-mode sweep. `warmup_us` is 0 in validation mode, as DS3 forces it.
    """

    path: Path
    soc: SoC
    applications: tuple[Application, ...]
    probabilities: tuple[float, ...]
    scheduler: str
    scale_us: float
    scale_values: list[int]
    warmup_us: float
    simulation_length_us: float
    max_jobs_in_parallel: int
    inject_fixed_num_jobs: bool
    max_jobs: int
    fixed_injection_rate: bool
    standard_deviation: float
    random_seed: int
    simulation_mode: str
    throttling: bool = False  # [POWER MANAGEMENT] enable_throttling

    @property
    def default_scale_us(self) -> float:
        """The scale DS3 would run: `scale` in validation mode, else the first `scale_values`."""
        if self.simulation_mode == "performance" and self.scale_values:
            return float(self.scale_values[0])
        return self.scale_us

    def workload(self, probabilities: tuple[float, ...] | list[float] | None = None) -> Workload:
        """The application mix as a `Workload` named after the ini file."""
        probs = self.probabilities if probabilities is None else tuple(map(float, probabilities))
        if len(probs) != len(self.applications):
            raise ConfigError(
                f"{len(probs)} probabilities for {len(self.applications)} applications",
                "probabilities",
            )
        return Workload(
            name=self.path.stem,
            applications=self.applications,
            probabilities=probs,
            soc=self.soc.name,
            description=f"Application mix of the DS3 configuration {self.path.name}.",
        )

    def to_sim_config(
        self,
        scale_us: float | None = None,
        duration_us: float | None = None,
        warmup_us: float | None = None,
        probabilities: tuple[float, ...] | list[float] | None = None,
    ) -> SimConfig:
        """A `SimConfig` reproducing this DS3 run; arguments override the ini's values.

        The run lasts `simulation_length` (DS3 stops there in both modes) and, with
        `inject_fixed_num_jobs`, also after `max_jobs` jobs. A `standard_deviation` > 0 becomes
        gym-ds3's relative Gaussian execution-time noise.
        """
        from dssoc.noise import GaussianNoise

        noise = (GaussianNoise(self.standard_deviation),) if self.standard_deviation > 0 else ()
        return SimConfig(
            soc=self.soc,
            workload=self.workload(probabilities),
            scale_us=float(scale_us if scale_us is not None else self.default_scale_us),
            fixed_rate=self.fixed_injection_rate,
            max_jobs_in_flight=self.max_jobs_in_parallel,
            warmup_us=float(warmup_us if warmup_us is not None else self.warmup_us),
            duration_us=float(
                duration_us if duration_us is not None else self.simulation_length_us),
            max_jobs=self.max_jobs if self.inject_fixed_num_jobs else None,
            noise=noise,
            integer_times=True,
            arrival_streams="ds3",  # seed k then reproduces DS3's iteration k job for job
            throttling=self.throttling,
        )


def _ini_line(text: str, key: str) -> int | None:
    """Line number of the (last) definition of `key` in an ini text, for error messages."""
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*[=:]", re.IGNORECASE)
    found = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            found = lineno
    return found


def _parse_scale_values(value: str, where: str) -> list[int]:
    """DS3's `start-stop-step` ranges (comma-separated, mixed with single values or `[..]`)."""
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    out: list[int] = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        if "-" in part:
            bits = part.split("-")
            if len(bits) != 3:
                raise ConfigError(f"expected scale_values as start-stop-step, got {part!r}", where)
            start, stop, step = (parse_int(b, "in start-stop-step", where) for b in bits)
            if step == 0:
                raise ConfigError(f"expected a non-zero step in {part!r}", where)
            out.extend(range(start, stop, step))
        else:
            out.append(parse_int(part, "scale value", where))
    if any(v <= 0 for v in out):
        raise ConfigError(f"expected scale values > 0 (us), got {out}", where)
    return out


def _parse_probabilities(value: str, where: str) -> tuple[float, ...]:
    """`[0.8,0.2,0,0]` (brackets optional) -> (0.8, 0.2, 0.0, 0.0)."""
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    probs = tuple(parse_number(p.strip(), "a job probability", where)
                  for p in text.split(",") if p.strip())
    if not probs:
        raise ConfigError("expected a list of job probabilities like [0.8,0.2]", where)
    if any(p < 0 for p in probs) or not math.isclose(sum(probs), 1.0, abs_tol=1e-6):
        raise ConfigError(f"expected probabilities >= 0 summing to 1, got {list(probs)}", where)
    return probs


def _resolve(base: Path, name: str, kind: str, where: str) -> Path:
    """Find a resource/job file named in an ini: next to it, in config_SoC/ or config_Jobs/,
    or in those folders one level up (DS3 keeps variants in config_Files/)."""
    candidates = [base / name, base / "config_SoC" / name, base / "config_Jobs" / name,
                  base.parent / "config_SoC" / name, base.parent / "config_Jobs" / name]
    for c in candidates:
        if c.is_file():
            return c
    tried = ", ".join(str(c) for c in candidates)
    raise ConfigError(f"{kind} {name!r} not found (tried {tried})", where)


class _Ini:
    """A parsed `config_file.ini`: typed lookups in `[SIMULATION MODE]` (else `[DEFAULT]`)
    whose errors name the line that defines the key."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.text = read_text(path)
        self.parser = configparser.ConfigParser(interpolation=None)
        try:
            self.parser.read_string(self.text, source=str(path))
        except configparser.Error as e:
            lineno = getattr(e, "lineno", None)
            if lineno is None and getattr(e, "errors", None):
                lineno = e.errors[0][0]  # type: ignore[attr-defined]
            where = f"{path}:{lineno}" if lineno else str(path)
            raise ConfigError(f"invalid ini syntax: {e.message.splitlines()[0]}", where) from None
        has_mode = self.parser.has_section("SIMULATION MODE")
        self.section = self.parser["SIMULATION MODE"] if has_mode else self.parser["DEFAULT"]

    def where_of(self, key: str) -> str:
        """`file:line` of the key's (last) definition, or `file: [key]` when it is not written."""
        lineno = _ini_line(self.text, key)
        return f"{self.path}:{lineno}" if lineno else f"{self.path}: [{key}]"

    def get(self, key: str, default: str | None = None) -> str:
        """The key's stripped value; `default` when absent, an error when there is none."""
        value = self.section.get(key)
        if value is None:
            if default is None:
                raise ConfigError(f"missing key {key!r} (expected in [DEFAULT])", str(self.path))
            return default
        return value.strip()

    def get_int(self, key: str, default: str) -> int:
        """The key as an integer."""
        return parse_int(self.get(key, default), key, self.where_of(key))

    def get_float(self, key: str, default: str) -> float:
        """The key as a finite number."""
        return parse_number(self.get(key, default), key, self.where_of(key))

    def get_bool(self, key: str, default: str) -> bool:
        """The key as configparser's yes/no, true/false, on/off, 1/0."""
        return self._boolean(self.get(key, default), key)

    def throttling(self) -> bool:
        """DS3's `enable_throttling` in the [POWER MANAGEMENT] section (default off)."""
        if not self.parser.has_section("POWER MANAGEMENT"):
            return False
        value = self.parser["POWER MANAGEMENT"].get("enable_throttling", "no").strip()
        return self._boolean(value, "enable_throttling")

    def _boolean(self, value: str, key: str) -> bool:
        value = value.lower()
        if value not in self.parser.BOOLEAN_STATES:
            raise ConfigError(f"expected yes/no for {key}, got {value!r}", self.where_of(key))
        return self.parser.BOOLEAN_STATES[value]


def _read_soc_and_jobs(ini: _Ini) -> tuple[SoC, list[Application]]:
    """The SoC and the applications of the ini's resource and job files (old DS3 configs call
    the job key `task_file`); every task must run on some PE of the SoC."""
    section = ini.section
    soc_path = _resolve(ini.path.parent, ini.get("resource_file"), "resource_file",
                        ini.where_of("resource_file"))
    old_key = section.get("job_file") is None and section.get("task_file") is not None
    job_key = "task_file" if old_key else "job_file"
    job_names = [j.strip() for j in ini.get(job_key).split(",") if j.strip()]
    if not job_names:
        raise ConfigError("expected at least one job file name", ini.where_of(job_key))
    soc = read_ds3_soc(soc_path)
    apps = []
    for job in job_names:
        job_path = _resolve(ini.path.parent, job, job_key, ini.where_of(job_key))
        app = read_ds3_job(job_path)
        missing = sorted({t.name for t in app.tasks if not soc.supports(t.name)})
        if missing:
            raise UnsupportedTaskError(
                f"tasks {missing} of {job_path.name} run on no PE of {soc_path.name}",
                ini.where_of(job_key))
        apps.append(app)
    return soc, apps


def _job_probabilities(ini: _Ini, n_apps: int) -> tuple[float, ...]:
    """One probability per job file; `job_list` snippets are warned about and not used."""
    probs = _parse_probabilities(ini.get("job_probabilities"), ini.where_of("job_probabilities"))
    if len(probs) != n_apps:
        raise ConfigError(f"expected {n_apps} job probabilities (one per job file), got "
                          f"{len(probs)}", ini.where_of("job_probabilities"))
    job_list = ini.get("job_list", "[]").replace(" ", "")
    if job_list not in ("", "[]"):
        warnings.warn(f"{ini.where_of('job_list')}: job_list snippets are not supported; the job "
                      "probabilities are used instead", stacklevel=3)  # read_ds3_config's caller
    return probs


@dataclass(frozen=True)
class _RunLength:
    """The mode, scale and length parameters of a DS3 run, checked against dssoc's caps."""

    mode: str
    scale: float
    warmup: float
    length: float
    max_par: int
    max_jobs: int


def _run_length(ini: _Ini) -> _RunLength:
    """Read and check `simulation_mode`, `scale`, `warmup_period`, `simulation_length`,
    `max_jobs_in_parallel` and `max_jobs` (DS3's defaults where absent)."""
    mode = ini.get("simulation_mode", "performance").lower()
    if mode not in ("performance", "validation"):
        raise ConfigError(f"expected simulation_mode performance or validation, got {mode!r}",
                          ini.where_of("simulation_mode"))
    scale = ini.get_float("scale", "100")
    if scale <= 0:
        raise ConfigError(f"expected a scale > 0 (us), got {scale:g}", ini.where_of("scale"))
    warmup = ini.get_float("warmup_period", "0")
    length = ini.get_float("simulation_length", "100000")
    max_par = ini.get_int("max_jobs_in_parallel", "12")
    max_jobs = ini.get_int("max_jobs", "100")
    # the simulator's caps (dssoc.checks), reported at the ini line rather than as config.X
    checks.number(length, ini.where_of("simulation_length"), le=checks.MAX_DURATION_US)
    checks.integer(max_jobs, ini.where_of("max_jobs"), le=checks.MAX_JOBS)
    checks.integer(max_par, ini.where_of("max_jobs_in_parallel"), le=checks.MAX_JOBS_IN_FLIGHT)
    if warmup < 0 or length <= 0 or max_par < 1 or max_jobs < 1:
        raise ConfigError(
            f"expected warmup_period >= 0, simulation_length > 0, max_jobs_in_parallel >= 1 and "
            f"max_jobs >= 1, got {warmup:g}, {length:g}, {max_par}, {max_jobs}", str(ini.path))
    return _RunLength(mode, scale, warmup, length, max_par, max_jobs)


def read_ds3_config(path: str | Path) -> Ds3Config:
    """Parse a DS3 `config_file.ini` and the SoC and job files it names.

    Keys are looked up in `[SIMULATION MODE]` then `[DEFAULT]`; keys DS3 requires but dssoc can
    default (clock, traces, power settings) are not read. `job_list` snippets are not supported.
    """
    path = Path(path)
    ini = _Ini(path)
    soc, apps = _read_soc_and_jobs(ini)
    probs = _job_probabilities(ini, len(apps))
    run = _run_length(ini)
    return Ds3Config(
        path=path,
        soc=soc,
        applications=tuple(apps),
        probabilities=probs,
        scheduler=ini.get("scheduler", "ETF"),
        scale_us=run.scale,
        scale_values=_parse_scale_values(ini.get("scale_values", ""), ini.where_of("scale_values")),
        warmup_us=0.0 if run.mode == "validation" else run.warmup,
        simulation_length_us=run.length,
        max_jobs_in_parallel=run.max_par,
        inject_fixed_num_jobs=ini.get_bool("inject_fixed_num_jobs", "no"),
        max_jobs=run.max_jobs,
        fixed_injection_rate=ini.get_bool("fixed_injection_rate", "no"),
        standard_deviation=ini.get_float("standard_deviation", "0"),
        random_seed=checks.seed(ini.get_int("random_seed", "1"), ini.where_of("random_seed")),
        simulation_mode=run.mode,
        throttling=ini.throttling(),
    )
