"""`hayhooks.yml` holds the deployment's values: no default of the settings schema may say otherwise."""

import types
import typing

import pytest
import yaml
from pydantic import BaseModel, TypeAdapter
from pydantic_core import PydanticUndefined

from service.settings import DEFAULT_CONFIG_PATH, Settings

pytestmark = pytest.mark.unit


def _model_of(annotation: object) -> type[BaseModel] | None:
    """The settings section a field holds (`Section` or `Section | None`), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
        return models[0] if len(models) == 1 else None
    return None


def contradictions(model: type[BaseModel], written: dict, path: str = "") -> list[str]:
    """Every key of `written` whose value differs from the schema's default for it (sections walked into)."""
    found = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key not in written:
            continue
        value, where = written[key], f"{path}{key}"
        section = _model_of(field.annotation)
        if section is not None and isinstance(value, dict):
            found += contradictions(section, value, where + ".")
            continue
        if field.default is PydanticUndefined and field.default_factory is None:
            continue  # no default: nothing to contradict
        adapter = TypeAdapter(field.annotation)
        default = adapter.dump_python(field.get_default(call_default_factory=True))
        if adapter.dump_python(adapter.validate_python(value)) != default:
            found.append(f"{where}: hayhooks.yml {value!r}, schema default {default!r}")
    return found


def test_no_schema_default_contradicts_hayhooks_yml():
    written = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    assert contradictions(Settings, written) == []


def test_the_check_sees_a_contradiction():
    assert contradictions(Settings, {"server": {"workers": 3}}) == ["server.workers: hayhooks.yml 3, schema default 1"]
