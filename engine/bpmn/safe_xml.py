"""Reading untrusted XML (a BPMN diagram, a DMN file): as UTF-8, without DTDs, entities or the network."""

from __future__ import annotations

import re

from lxml import etree

from engine.store.errors import InvalidDiagram

# Refused before parsing: DTDs are how XXE, billion laughs and quadratic blow-up get in.
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def read_xml(content: bytes) -> etree._Element:
    if _DTD.search(content):
        raise InvalidDiagram("XML 文件不得包含 DOCTYPE 或实体声明 DOCTYPE and entity declarations are not allowed")
    parser = etree.XMLParser(
        # Read as the UTF-8 it was checked to be, whatever its declaration claims: what is stored is
        # then what was parsed.
        encoding="utf-8",
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_blank_text=False,
    )
    try:
        return etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        raise InvalidDiagram(f"XML 格式错误 Malformed XML: {exc}") from exc
