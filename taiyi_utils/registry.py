"""YAML registries (sources, suites, cases, profiles): read with errors naming the file and line, merged over
the shipped ones."""

from __future__ import annotations

from pathlib import Path


def load_yaml(path: str | Path):
    """A YAML file's content; invalid YAML or a key given twice in one mapping (YAML would keep the last one
    silently) is a ValueError naming the file and line."""
    import yaml

    class UniqueKeys(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise ValueError(
                        f"{path}: line {key_node.start_mark.line + 1}: key {key!r} repeats the one on line {seen[key]}"
                    )
                seen[key] = key_node.start_mark.line + 1
            return super().construct_mapping(node, deep)

    try:
        return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=UniqueKeys)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ValueError(f"{path}: {where}invalid YAML ({getattr(err, 'problem', None) or err})") from None


def read_registry(shipped: Path, extra: tuple[str, ...] = ()) -> tuple[dict, dict[str, str]]:
    """Entries of a shipped registry YAML with the entries of ``extra`` files merged over them.

    A user entry with a shipped (or earlier) name replaces it whole; returns the merged entries
    and, for each replaced name, the file that replaced it. Errors name the file and line.
    """
    merged, replaced = {}, {}
    for path in (shipped, *map(Path, extra)):
        if not path.is_file():
            raise FileNotFoundError(f"registry file {path} not found")
        entries = load_yaml(path) or {}
        if not isinstance(entries, dict) or not all(isinstance(v, dict) for v in entries.values()):
            raise ValueError(f"{path}: expected a mapping of name -> entry (a mapping of fields)")
        for name, entry in entries.items():
            if name in merged:
                replaced[str(name)] = str(path)
            merged[str(name)] = {**entry, "_file": str(path)}
    return merged, replaced
