"""FIX 4.4 names, read from the data dictionary quickfix validates with: for people reading raw
messages (the admin's FIX message log), never for parsing."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import cache

from venues.fix.config import data_dictionary


@cache
def _names() -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    root = ET.parse(data_dictionary()).getroot()
    fields, values = {}, {}
    for element in root.iterfind("./fields/field"):
        number = element.get("number", "")
        fields[number] = element.get("name", number)
        for value in element.iterfind("value"):
            values[number, value.get("enum", "")] = value.get("description", "")
    return fields, values


def field_name(tag: str) -> str:
    return _names()[0].get(tag, "")


def value_name(tag: str, value: str) -> str:
    return _names()[1].get((tag, value), "")


def message_type_name(msg_type: str) -> str:
    return value_name("35", msg_type).replace("_", " ").title()


def decoded(raw: str) -> list[tuple[str, str, str, str]]:
    """(tag, its name, value, the value's meaning) for each field, in wire order."""
    rows = []
    for item in raw.strip("\x01").split("\x01"):
        tag, _, value = item.partition("=")
        rows.append((tag, field_name(tag), value, value_name(tag, value).replace("_", " ").lower()))
    return rows
