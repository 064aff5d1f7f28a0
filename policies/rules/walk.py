"""Walking resource inputs: every string (map keys included) and every string nested inside strings.

Values hide inside other values: a JSON document in an IAM policy or an ECS container definition, a YAML or
properties file in a ConfigMap, a base64 blob (EC2 `userData`, ConfigMap `binaryData`, a JWT-bearing header).
`strings()` yields every string leaf with its path and, for a string that parses as JSON or YAML or decodes
from base64 to text, the leaves inside it too (path steps `(json)`, `(yaml)`, `(base64)`). `named_values()`
yields (path, name, value) for every value that sits under a name: map entries, `{name, value}` pairs (the
Kubernetes and ECS env convention) and `NAME=value` lines of scripts and properties files.
Written here because detect-secrets scans lines of files, not nested structures.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from typing import Any

import yaml
from pulumi import AssetArchive, StringAsset

Path = tuple[str | int, ...]
MAX_DEPTH = 3  # decoding levels: base64 of JSON of a YAML document is as deep as anything real goes
BASE64 = re.compile(r"^(?:[A-Za-z0-9+/]{4}){4,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")
LINE_ASSIGNMENT = re.compile(r"^\s*(?:export\s+|set\s+|ENV\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*[=:]\s*(.*?)\s*$")
YAML_KEY = re.compile(r"^[A-Za-z0-9_.\-/]+$")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def decode(text: str) -> tuple[str, Any] | None:
    """(`(json)`/`(yaml)`/`(base64)`, the decoded value) when `text` carries a nested document, else None."""
    stripped = text.strip()
    if len(stripped) < 8:
        return None
    if stripped[0] in "{[":
        try:
            return "(json)", json.loads(stripped)
        except ValueError:
            pass
    if "\n" in stripped and ": " in stripped:
        try:
            loaded = yaml.load(stripped, Loader=_Loader)  # noqa: S506 - the C safe loader
        except yaml.YAMLError:
            loaded = None
        if isinstance(loaded, list) or isinstance(loaded, dict) and all(
                isinstance(k, str) and YAML_KEY.match(k) for k in loaded):
            return "(yaml)", loaded  # a document, not a script that happens to parse (`curl -H 'x: y'`)
    if len(stripped) >= 16 and BASE64.match(stripped):
        try:
            decoded = base64.b64decode(stripped, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if decoded.isprintable() or all(c.isprintable() or c in "\n\r\t" for c in decoded):
            return "(base64)", decoded
    return None


def strings(value: Any, path: Path = (), depth: int = 0) -> Iterator[tuple[Path, str]]:
    """Every string leaf and map key with its path, decoding nested documents; assets and archives are read."""
    if isinstance(value, str):
        yield path, value
        nested = decode(value) if depth < MAX_DEPTH else None
        if nested is not None:
            yield from strings(nested[1], (*path, nested[0]), depth + 1)
    elif isinstance(value, StringAsset):
        yield from strings(value.text, path, depth)
    elif isinstance(value, AssetArchive):
        for key, item in value.assets.items():
            yield from strings(item, (*path, key), depth)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield (*path, key, "(key)"), key
            yield from strings(item, (*path, str(key)), depth)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, (*path, index), depth)


def _pair(item: Any) -> tuple[str, Any] | None:
    """`{name: X, value: Y}` (Kubernetes, ECS env, headers) or `{key: X, value: Y}` (Vercel) -> (X, Y)."""
    if isinstance(item, dict) and "value" in item:
        name = item.get("name", item.get("key"))
        if isinstance(name, str):
            return name, item["value"]
    return None


def named_values(value: Any, path: Path = (), depth: int = 0) -> Iterator[tuple[Path, str, Any]]:
    """(path, name, value) for every value under a name, at any depth and inside nested documents."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and not isinstance(item, dict | list):
                yield (*path, key), key, item
            yield from named_values(item, (*path, str(key)), depth)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            pair = _pair(item)
            if pair is not None:
                yield (*path, index, "value"), pair[0], pair[1]
            yield from named_values(item, (*path, index), depth)
    elif isinstance(value, str) and depth < MAX_DEPTH:
        nested = decode(value)
        if nested is not None:
            yield from named_values(nested[1], (*path, nested[0]), depth + 1)
        elif "\n" in value or "=" in value:
            for number, line in enumerate(value.splitlines(), start=1):
                match = LINE_ASSIGNMENT.match(line)
                if match:
                    yield (*path, f"(line {number})"), match.group(1), match.group(2).strip("'\"")
