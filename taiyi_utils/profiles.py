"""Profiles: ``params/<name>.yaml`` over the owners' defaults, resolved the one way everything uses.

A profile is a delta: ``common`` (settings any notebook's owner takes) and one section per notebook. ``resolve``
gives a notebook's settings as its owner (``settings.OWNERS``): the owner's defaults, then ``common``, then the
section, then whatever the caller sets by hand. The runner (validating every notebook before it runs anything),
each notebook's setup cell and ``python -m taiyi_utils.train --profile`` all call it, so a setting cannot
resolve differently by route.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import papermill as pm

from . import settings
from .paths import REPO_ROOT
from .registry import load_yaml

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
PARAMS_DIR = REPO_ROOT / "params"
PIPELINE = ("01_curation", "02_stage1_sft", "03_stage2_sft", "04_eval", "05_case_studies")
INJECTED = ("profile", "run_dir")  # the only names a parameters cell declares; the runner sets them
PATH_PARAMS = ("data_root", "sources_files", "suites_files")  # relative paths in a profile: to the profile file
_TYPES = {"int": int, "float": (int, float), "str": str, "bool": bool, "list": list, "dict": dict}


class ParameterError(ValueError):
    """A profile names a parameter a notebook does not declare, or gives it the wrong type."""


def load_profile(profile: str) -> tuple[Path, dict]:
    path = Path(profile) if profile.endswith((".yaml", ".yml")) else PARAMS_DIR / f"{profile}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in PARAMS_DIR.glob("*.yaml")))
        raise FileNotFoundError(f"no profile {path}; known profiles: {known}")
    try:
        data = load_yaml(path) or {}
    except ValueError as err:
        raise ParameterError(str(err)) from None
    if not isinstance(data, dict):
        raise ParameterError(f"{path}: expected one mapping per notebook section")
    for section, values in data.items():
        if values is not None and not isinstance(values, dict):
            raise ParameterError(f"{path}: {section}: expected a mapping of parameters, got {type(values).__name__}")
    return path, {section: values or {} for section, values in data.items()}


def _default(source: str):
    """A notebook default as a value (its source text when it is not a literal)."""
    try:
        return ast.literal_eval(source)
    except (ValueError, SyntaxError):
        return source


def _declared_type(spec: dict, default) -> str:
    """The annotation papermill found, else the type of the default literal (None: any)."""
    if spec["inferred_type_name"] not in ("None", None):
        return spec["inferred_type_name"]
    return "None" if default is None else type(default).__name__


def _type_ok(value, kinds) -> bool:
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if isinstance(value, bool) and bool not in kinds:
        return False
    return isinstance(value, kinds)


def resolve_params(path: Path, profile: dict, notebooks: dict[str, Path]) -> dict[str, dict]:
    """Every setting per existing notebook: its owner's defaults (taiyi_utils/settings.py), then ``common``,
    then the notebook's section. Unknown sections or keys, ill-typed or out-of-range values raise, naming them."""
    common = profile.get("common") or {}
    unknown_sections = [s for s in profile if s != "common" and s not in PIPELINE]
    if unknown_sections:
        raise ParameterError(
            f"{path}: unknown section(s) {unknown_sections}; sections are common, {', '.join(PIPELINE)}"
        )
    resolved, declared_anywhere = {}, set()
    for stem, notebook in notebooks.items():
        owner = settings.OWNERS[stem]
        specs = pm.inspect_notebook(str(notebook))
        cell = {name: _default(spec["default"]) for name, spec in specs.items() if name not in INJECTED}
        types = {name: _TYPES.get(_declared_type(spec, cell.get(name)), ()) for name, spec in specs.items()}
        types.update(settings.field_types(owner))
        declared = set(types) - set(INJECTED)
        declared_anywhere |= declared
        owned = settings.defaults(stem)
        params = {**owned, **{k: v for k, v in cell.items() if k not in owned}}
        params.update({k: v for k, v in common.items() if k in declared})
        for key, value in (profile.get(stem) or {}).items():
            if key not in declared:
                raise ParameterError(
                    f"{path}: {stem}.{key}: unknown parameter; {stem} takes {', '.join(sorted(declared))}"
                )
            params[key] = value
        for key, value in params.items():
            if types.get(key) and not _type_ok(value, types[key]):
                raise ParameterError(
                    f"{path}: {stem}.{key}: expected {_type_name(types[key])}, got {type(value).__name__} {value!r}"
                )
        try:
            settings.from_namespace(owner, params)
        except settings.SettingError as err:
            raise ParameterError(f"{path}: {stem}.{err}") from None
        resolved[stem] = {k: _anchored(v, path) if k in PATH_PARAMS else v for k, v in params.items()}
    stray = [k for k in common if k not in declared_anywhere]
    if stray:
        raise ParameterError(f"{path}: common.{stray[0]}: no notebook declares this parameter")
    return resolved


def _type_name(kinds) -> str:
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    return " or ".join(k.__name__ for k in kinds)


def _anchored(value, profile: Path):
    """A profile's relative path (or list of them) made absolute against the profile's folder."""
    if isinstance(value, list):
        return [_anchored(v, profile) for v in value]
    if isinstance(value, str) and value and not Path(value).is_absolute():
        return str((profile.parent / value).resolve())
    return value


def resolve(stem: str, profile: str = "demo", namespace: dict | None = None, **fixed):
    """Notebook ``stem``'s settings as its owner: the profile resolved over the owner's defaults, then the owner
    settings ``namespace`` defines (a notebook passes ``globals()``: what the user set by hand in its parameters
    cell), then ``fixed`` (paths the notebook derives)."""
    path, raw = load_profile(profile)
    notebooks = {s: NOTEBOOK_DIR / f"{s}.ipynb" for s in PIPELINE if (NOTEBOOK_DIR / f"{s}.ipynb").exists()}
    params = resolve_params(path, raw, notebooks)[stem]  # the whole profile checked, as the runner checks it
    try:
        return settings.from_namespace(settings.OWNERS[stem], {**params, **(namespace or {})}, **fixed)
    except settings.SettingError as err:
        raise ParameterError(f"{stem}: {err} (set by hand in the notebook)") from None


def describe(config) -> str:
    """The settings that differ from their owner's defaults, one per line: what this notebook runs with."""
    changed = [
        f"{f.name} = {getattr(config, f.name)!r}"
        for f in dataclasses.fields(config)
        if getattr(config, f.name) != (f.default if f.default is not dataclasses.MISSING else f.default_factory())
    ]
    return f"{type(config).__name__}, where it differs from the defaults:\n  " + "\n  ".join(changed or ["nothing"])
