"""Inclusive XML Canonicalization 1.1 without comments (W3C xml-c14n11), enough for NVIDIA's RIM files.

Pure (no Django).  The standard library's `xml.etree.ElementTree.canonicalize` implements C14N 2.0 and rewrites
namespace prefixes, so its output is not the byte string NVIDIA signed; this serializer keeps the document's own
prefixes.  It covers what a RIM contains: elements, attributes, namespace declarations and text.  Documents with a
DTD, processing instructions or `xml:*` attributes (which C14N 1.1 treats specially) are refused instead of being
canonicalized wrongly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from xml.parsers import expat


class CanonicalizationError(ValueError):
    pass


@dataclass(eq=False)
class Element:
    qname: str
    attributes: list[tuple[str, str]]
    parent: "Element | None"
    children: list = field(default_factory=list)  # Element or str

    def elements(self, qname: str) -> list["Element"]:
        return [c for c in self.children if isinstance(c, Element) and c.qname == qname]

    def element(self, qname: str) -> "Element":
        found = self.elements(qname)
        if len(found) != 1:
            raise CanonicalizationError(f"expected one <{qname}> in <{self.qname}>, found {len(found)}")
        return found[0]

    def text(self) -> str:
        return "".join(c for c in self.children if isinstance(c, str))

    def declarations(self) -> dict[str, str]:
        return {("" if name == "xmlns" else name[6:]): value for name, value in self.attributes
                if name == "xmlns" or name.startswith("xmlns:")}

    def in_scope(self) -> dict[str, str]:
        chain, node = [], self
        while node is not None:
            chain.append(node)
            node = node.parent
        scope: dict[str, str] = {}
        for node in reversed(chain):
            scope.update(node.declarations())
        return scope


def parse(data: bytes) -> Element:
    """The document's root element, prefixes as written (no namespace processing by the parser)."""
    parser = expat.ParserCreate()
    parser.ordered_attributes = True
    stack: list[Element] = []
    root: list[Element] = []

    def start(name, attributes):
        for attribute in attributes[0::2]:
            if attribute.startswith("xml:"):
                raise CanonicalizationError(f"attribute {attribute} is not supported")
        element = Element(name, list(zip(attributes[0::2], attributes[1::2])), stack[-1] if stack else None)
        (stack[-1].children if stack else root).append(element)
        stack.append(element)

    def characters(data):
        if stack:
            children = stack[-1].children
            if children and isinstance(children[-1], str):
                children[-1] += data
            else:
                children.append(data)

    def refuse(*_):
        raise CanonicalizationError("DTDs and processing instructions are not supported")

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda name: stack.pop()
    parser.CharacterDataHandler = characters
    parser.StartDoctypeDeclHandler = refuse
    parser.ProcessingInstructionHandler = refuse
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise CanonicalizationError(f"not well-formed XML: {exc}") from exc
    if len(root) != 1:
        raise CanonicalizationError("no root element")
    return root[0]


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#xD;")


def _attribute(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
            .replace("\t", "&#x9;").replace("\n", "&#xA;").replace("\r", "&#xD;"))


def canonicalize(element: Element, *, omit: Element | None = None) -> bytes:
    """Canonical bytes of the subtree at `element` as a document subset, leaving out `omit`
    (the enveloped-signature transform).  The apex carries every namespace in scope from its ancestors."""
    out: list[str] = []

    def emit(node: Element, rendered: dict[str, str], scope: dict[str, str]) -> None:
        scope = {**scope, **node.declarations()}
        new = {prefix: uri for prefix, uri in scope.items() if rendered.get(prefix, None if prefix else "") != uri}
        rendered = {**rendered, **new}
        attributes = []
        for name, value in node.attributes:
            if name == "xmlns" or name.startswith("xmlns:"):
                continue
            prefix, _, local = name.rpartition(":")
            if prefix and prefix not in scope:
                raise CanonicalizationError(f"undeclared prefix {prefix!r}")
            attributes.append(((scope[prefix] if prefix else "", local), name, value))
        attributes.sort(key=lambda item: item[0])
        parts = ["<", node.qname]
        for prefix in sorted(new):
            name = f"xmlns:{prefix}" if prefix else "xmlns"
            parts.append(f' {name}="{_attribute(new[prefix])}"')
        for _, name, value in attributes:
            parts.append(f' {name}="{_attribute(value)}"')
        parts.append(">")
        out.append("".join(parts))
        for child in node.children:
            if isinstance(child, str):
                out.append(_text(child))
            elif child is not omit:
                emit(child, rendered, scope)
        out.append(f"</{node.qname}>")

    emit(element, {}, element.parent.in_scope() if element.parent is not None else {})
    return "".join(out).encode("utf-8")
