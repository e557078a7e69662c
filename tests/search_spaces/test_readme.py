"""search_spaces/README.md documents every field of the search-space schema, as the schema says.

The README's "## Fields" section holds one table row per field, its first cell the field's path
in backticks (`budget.steps`). The schema is read at run time, so a field added to, or removed
from, nas/search/space.py makes these tests name it.
"""

import re
import typing
from pathlib import Path

from pydantic import BaseModel

from nas.search.space import SearchSpace

README = Path(__file__).resolve().parents[2] / "search_spaces" / "README.md"
ROW = re.compile(r"^\|\s*`([A-Za-z0-9_.]+)`\s*\|(.*)$")


def _models_in(annotation) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds (directly, or inside Optional[...], list[...])."""
    plain_class = typing.get_origin(annotation) is None and isinstance(annotation, type)
    if plain_class and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def schema_fields(model: type[BaseModel] = SearchSpace, prefix: str = "") -> dict:
    """Every field path of the schema (sections and their fields) -> its description or None."""
    fields = {}
    for name, info in model.model_fields.items():
        path = prefix + name
        fields[path] = info.description
        for nested in _models_in(info.annotation):
            fields.update(schema_fields(nested, path + "."))
    return fields


def readme_rows(text: str) -> dict[str, str]:
    """The "## Fields" section's table rows: field path -> the rest of its row."""
    rows, inside = {}, False
    for line in text.splitlines():
        if line.startswith("## "):
            inside = line.strip() == "## Fields"
            continue
        match = ROW.match(line) if inside else None
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def _words(text: str) -> str:
    return " ".join(text.replace("`", "").split())


def missing_fields(text: str) -> list[str]:
    return sorted(set(schema_fields()) - set(readme_rows(text)))


def unknown_fields(text: str) -> list[str]:
    return sorted(set(readme_rows(text)) - set(schema_fields()))


def stale_descriptions(text: str) -> list[str]:
    rows = readme_rows(text)
    return [
        f"{path}: the schema says {description!r}"
        for path, description in schema_fields().items()
        if description and path in rows and _words(description) not in _words(rows[path])
    ]


def test_the_walk_reaches_nested_sections():
    fields = schema_fields()
    assert {"budget", "budget.steps", "blocks_per_group.min", "widths.level3"} <= set(fields)
    assert {"resources.max_concurrent", "constraints.max_gflops", "seed"} <= set(fields)


def test_every_schema_field_is_in_the_readme():
    missing = missing_fields(README.read_text(encoding="utf-8"))
    assert not missing, f"search_spaces/README.md, ## Fields: no row for {missing}"


def test_the_readme_names_no_field_the_schema_lacks():
    unknown = unknown_fields(README.read_text(encoding="utf-8"))
    assert not unknown, f"search_spaces/README.md, ## Fields: rows for no schema field: {unknown}"


def test_each_field_description_is_in_its_row():
    stale = stale_descriptions(README.read_text(encoding="utf-8"))
    assert not stale, "search_spaces/README.md is out of date for: " + "; ".join(stale)


def test_the_checks_catch_a_missing_row_and_an_old_description():
    text = README.read_text(encoding="utf-8")
    without = "\n".join(line for line in text.splitlines() if "`budget.steps`" not in line)
    assert missing_fields(without) == ["budget.steps"]
    path, description = next((p, d) for p, d in schema_fields().items() if d)
    old = text.replace(description, "an older description")
    assert old != text, f"{path}'s description is not verbatim in one row"
    assert [line.split(":")[0] for line in stale_descriptions(old)] == [path]
    outside = text + "\n## Elsewhere\n\n| `budget.nothing` | a row of another table |\n"
    assert unknown_fields(outside) == []
    assert unknown_fields(text.replace("| `seed` |", "| `sed` |")) == ["sed"]
