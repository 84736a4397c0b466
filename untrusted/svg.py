"""SVG avatars: an allow-list of elements, attributes and URL forms.

An SVG is a document that can run scripts, load remote resources and restyle
itself; an avatar needs none of that.  So instead of hunting for bad parts,
every element and attribute must be on a list of inert ones, every reference
must stay inside the file (``#id``) or be an embedded raster image
(``data:image/png;base64,…``), and CSS (``style`` attributes, ``<style>`` and
presentation attributes, which browsers parse as CSS) is read after undoing CSS
escapes.  Processing instructions, DTDs and entities are refused.

The file is read once by an expat parser (defusedxml's, which refuses DTDs,
entities and external references) driving a checker as its target, so nothing
the parser sees — prolog included — escapes the checks.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, ParseError
from personas_as_code.untrusted.image_type import sniff_raster

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
# Editor bookkeeping (Inkscape, Sodipodi, RDF/Dublin Core metadata): never rendered.
INERT_NAMESPACES = frozenset(
    {
        "http://www.inkscape.org/namespaces/inkscape",
        "http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd",
        "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
        "http://creativecommons.org/ns#",
        "http://web.resource.org/cc/",
        "http://purl.org/dc/elements/1.1/",
    }
)

MAX_DEPTH = 64
MAX_PROBLEMS = 10

ELEMENTS = frozenset(
    {
        # structure and metadata
        "svg", "g", "defs", "symbol", "use", "title", "desc", "metadata", "style",
        # shapes and text
        "path", "rect", "circle", "ellipse", "line", "polyline", "polygon",
        "text", "tspan", "textPath",
        # paint servers, clipping, masking, markers
        "linearGradient", "radialGradient", "stop", "pattern", "clipPath", "mask", "marker",
        # raster images (embedded only: see href_problem)
        "image",
        # filters
        "filter", "feBlend", "feColorMatrix", "feComponentTransfer", "feComposite",
        "feConvolveMatrix", "feDiffuseLighting", "feDisplacementMap", "feDistantLight",
        "feDropShadow", "feFlood", "feFuncA", "feFuncB", "feFuncG", "feFuncR",
        "feGaussianBlur", "feImage", "feMerge", "feMergeNode", "feMorphology", "feOffset",
        "fePointLight", "feSpecularLighting", "feSpotLight", "feTile", "feTurbulence",
        # animation of presentation and geometry attributes only (see ANIMATABLE)
        "animate", "animateMotion", "animateTransform", "set", "mpath",
    }
)  # fmt: skip
ANIMATION_ELEMENTS = frozenset({"animate", "animateMotion", "animateTransform", "set"})
# Elements that may carry href / xlink:href, and those of them that may embed a raster image.
HREF_ELEMENTS = frozenset(
    {"use", "textPath", "linearGradient", "radialGradient", "pattern", "filter", "feImage",
     "image", "mpath"}
)  # fmt: skip
IMAGE_ELEMENTS = frozenset({"image", "feImage"})

PRESENTATION = frozenset(
    {
        "alignment-baseline", "baseline-shift", "clip", "clip-path", "clip-rule", "color",
        "color-interpolation", "color-interpolation-filters", "color-rendering", "cursor",
        "direction", "display", "dominant-baseline", "enable-background", "fill",
        "fill-opacity", "fill-rule", "filter", "flood-color", "flood-opacity", "font",
        "font-family", "font-size", "font-size-adjust", "font-stretch", "font-style",
        "font-variant", "font-weight", "glyph-orientation-horizontal",
        "glyph-orientation-vertical", "image-rendering", "isolation", "kerning",
        "letter-spacing", "lighting-color", "marker", "marker-end", "marker-mid",
        "marker-start", "mask", "mask-type", "mix-blend-mode", "opacity", "overflow",
        "paint-order", "pointer-events", "shape-rendering", "stop-color", "stop-opacity",
        "stroke", "stroke-dasharray", "stroke-dashoffset", "stroke-linecap",
        "stroke-linejoin", "stroke-miterlimit", "stroke-opacity", "stroke-width",
        "text-anchor", "text-decoration", "text-rendering", "transform", "transform-origin",
        "unicode-bidi", "vector-effect", "visibility", "word-spacing", "writing-mode",
    }
)  # fmt: skip
GEOMETRY = frozenset(
    {
        "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "fx", "fy", "fr",
        "width", "height", "d", "points", "pathLength", "dx", "dy", "rotate", "textLength",
        "lengthAdjust", "startOffset", "method", "spacing", "side", "offset",
        "gradientUnits", "gradientTransform", "spreadMethod", "patternUnits",
        "patternContentUnits", "patternTransform", "clipPathUnits", "maskUnits",
        "maskContentUnits", "markerUnits", "markerWidth", "markerHeight", "refX", "refY",
        "orient", "viewBox", "preserveAspectRatio",
        # filter primitives
        "filterUnits", "primitiveUnits", "in", "in2", "result", "stdDeviation", "mode",
        "type", "values", "tableValues", "slope", "intercept", "amplitude", "exponent",
        "k1", "k2", "k3", "k4", "operator", "radius", "scale", "xChannelSelector",
        "yChannelSelector", "baseFrequency", "numOctaves", "seed", "stitchTiles",
        "surfaceScale", "diffuseConstant", "specularConstant", "specularExponent",
        "kernelMatrix", "kernelUnitLength", "order", "divisor", "bias", "targetX",
        "targetY", "edgeMode", "preserveAlpha", "azimuth", "elevation", "pointsAtX",
        "pointsAtY", "pointsAtZ", "limitingConeAngle", "z",
    }
)  # fmt: skip
TIMING = frozenset(
    {
        "attributeName", "attributeType", "begin", "dur", "end", "min", "max", "restart",
        "repeatCount", "repeatDur", "calcMode", "keyTimes", "keySplines", "keyPoints",
        "from", "to", "by", "additive", "accumulate", "path",
    }
)  # fmt: skip
CORE = frozenset(
    {"id", "class", "style", "lang", "tabindex", "role", "focusable", "version", "baseProfile",
     "media", "href"}
)  # fmt: skip
ATTRIBUTES = PRESENTATION | GEOMETRY | TIMING | CORE
# What <animate>/<set> may change: never href, style, event handlers or ids.
ANIMATABLE = (PRESENTATION | GEOMETRY) - {"type", "in", "in2", "result"}
XML_ATTRIBUTES = frozenset({"xml:space", "xml:lang", "xml:id"})
AT_RULES = frozenset({"media", "keyframes", "-webkit-keyframes", "font-face", "supports"})

_FRAGMENT = re.compile(r"#[^\s#()'\"<>\\]+")
_DATA_IMAGE = re.compile(
    r"data:(image/(?:png|jpeg|gif|webp))((?:;[a-z0-9.+-]+=[^;,]*)*);base64,(.*)",
    re.IGNORECASE | re.DOTALL,
)
_CSS_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})[ \t\r\n\f]?|(\r\n|[\n\r\f])|(.))", re.DOTALL)
# Escapes, strings and comments, in the order a CSS tokenizer meets them: "/*" after a
# backslash or inside a string does not start a comment, so it must not hide what follows.
_CSS_TOKEN = re.compile(
    r"\\[\s\S]|\"(?:\\[\s\S]|[^\"\\])*\"?|'(?:\\[\s\S]|[^'\\])*'?|/\*[\s\S]*?(?:\*/|\Z)"
)
_INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")
_CSS_URL = re.compile(r"url\(")
_LOCAL_URL = re.compile(r"url\((['\"]?)#[^)'\"]*\1\)")
_CSS_FORBIDDEN = re.compile(
    r"(image-set|image|src|element|expression|-webkit-image-set|cross-fade)\(|-moz-binding|"
    r"behavior:"
)
_SCHEME = re.compile(r"(javascript|vbscript|livescript|data):")
_AT_RULE = re.compile(r"@([a-z-]+)")


def css_unescape(text: str) -> str:
    """``text`` with CSS escapes (``\\72``, ``\\r``, ``\\(``) replaced by what they stand for."""

    def replace(m: re.Match[str]) -> str:
        if m.group(1):
            code = int(m.group(1), 16)
            valid = 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF
            return chr(code) if valid else "\ufffd"
        if m.group(2):
            return ""
        return m.group(3)

    return _CSS_ESCAPE.sub(replace, text)


def _css_forms(text: str) -> tuple[str, str]:
    """CSS as a browser reads it (lowercased, no comments, no escapes); also without
    whitespace, so that ``url (`` or ``java script:`` cannot hide from a search."""
    without_comments = _CSS_TOKEN.sub(lambda m: "" if m[0].startswith("/*") else m[0], text)
    plain = css_unescape(without_comments).lower()
    return plain, _INVISIBLE.sub("", plain)


def _shown(value: str, limit: int = 60) -> str:
    """User text quoted for a message: literal, control characters escaped, shortened."""
    return json.dumps(value if len(value) <= limit else value[:limit] + "…", ensure_ascii=False)


def css_problems(css: str, *, stylesheet: bool) -> list[str]:
    """Why CSS (a stylesheet, a ``style`` attribute or a presentation value) is unsafe."""
    plain, form = _css_forms(css)
    problems = []
    if len(_CSS_URL.findall(form)) > len(_LOCAL_URL.findall(form)):
        problems.append("loads an external resource (only url(#id) is allowed)")
    found = _CSS_FORBIDDEN.search(form)
    if found:
        problems.append(f"uses {found.group(0).rstrip('(:')}, which is not allowed")
    scheme = _SCHEME.search(form)
    if scheme:
        problems.append(f"contains a {scheme.group(0)} URL")
    if stylesheet or "@" in form:
        for rule in dict.fromkeys(_AT_RULE.findall(plain)):
            if rule == "import":
                problems.append("loads an external resource (@import)")
            elif rule not in AT_RULES:
                problems.append(f"uses @{rule}, which is not allowed")
    return problems


def _data_image_problem(value: str) -> str | None:
    m = _DATA_IMAGE.fullmatch(value)
    if m is None:
        return "embeds data that is not a base64 data:image/png, jpeg, gif or webp"
    try:
        payload = base64.b64decode(_INVISIBLE.sub("", m.group(3)), validate=True)
    except (binascii.Error, ValueError):
        return "embeds an image whose base64 is invalid"
    declared, actual = m.group(1).lower(), sniff_raster(payload)
    if actual != declared:
        return f"embeds an image declared as {declared} whose bytes are {actual or 'not an image'}"
    return None


def href_problem(element: str, value: str) -> str | None:
    """Why an ``href`` value on ``element`` is refused; None for ``#id`` or an embedded image."""
    v = value.strip(" \t\r\n\f")
    if v == "" or _FRAGMENT.fullmatch(v):
        return None
    if element in IMAGE_ELEMENTS and _INVISIBLE.sub("", v).lower().startswith("data:"):
        return _data_image_problem(v)
    return f"references an external resource: {_shown(value)}"


@dataclass
class _Open:
    name: str
    text: list[str] = field(default_factory=list)
    children: bool = False


class _Stop(Exception):
    """Parsing stops: the document is too deep to keep reading."""


class _Checker:
    """ElementTree parser target that collects problems as the parser reads the SVG."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.stack: list[_Open] = []
        self.parser: Any = None
        self.seen_root = False

    def _line(self) -> int:
        return int(getattr(self.parser, "CurrentLineNumber", 0) or 0)

    def add(self, message: str) -> None:
        self.problems.append(f"line {self._line()}: {message}")

    # --- parser target interface ---

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        ns, _, name = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
        if self.stack:
            self.stack[-1].children = True
        elif not (ns == SVG_NS and name == "svg") and not (ns == "" and name == "svg"):
            self.add(f"the root element is <{name}>, not <svg>")
        self.stack.append(_Open(name))
        if len(self.stack) > MAX_DEPTH:
            self.add(f"elements are nested more than {MAX_DEPTH} deep")
            raise _Stop
        if len(self.stack) > 1 and self.stack[-2].name == "style":
            self.add("<style> may contain only CSS text")
        if ns in INERT_NAMESPACES:
            self._check_inert_attributes(name, attrib)
            return
        if ns not in (SVG_NS, ""):
            self.add(f"<{name}> element of namespace {_shown(ns)} is not allowed")
            return
        if name not in ELEMENTS:
            self.add(f"<{name}> element is not allowed")
            return
        self._check_attributes(name, attrib)

    def end(self, tag: str) -> None:
        done = self.stack.pop()
        if done.name == "style":
            for problem in css_problems("".join(done.text), stylesheet=True):
                self.add(f"<style> {problem}")

    def data(self, text: str) -> None:
        if self.stack and self.stack[-1].name == "style":
            self.stack[-1].text.append(text)

    def pi(self, target: str, text: str | None = None) -> None:
        self.add(
            f"processing instruction <?{target}?> is not allowed"
            + (" (it loads a stylesheet)" if target.lower() == "xml-stylesheet" else "")
        )

    def close(self) -> None:
        return None

    # --- attributes ---

    def _check_inert_attributes(self, element: str, attrib: dict[str, str]) -> None:
        # Editor elements are never rendered, so their attributes do nothing; an event
        # handler there is still no sign of a harmless file.
        for raw in attrib:
            name = raw.rpartition("}")[2]
            if name.lower().startswith("on"):
                self.add(f"<{element}> has an event handler attribute '{name}'")

    def _check_attributes(self, element: str, attrib: dict[str, str]) -> None:
        for raw, value in attrib.items():
            ns, _, name = raw[1:].partition("}") if raw.startswith("{") else ("", "", raw)
            if ns in INERT_NAMESPACES:
                continue
            if ns == XLINK_NS and name == "href":
                name = "xlink:href"
            elif ns == XML_NS and f"xml:{name}" in XML_ATTRIBUTES:
                continue
            elif ns:
                self.add(f"<{element}> attribute {_shown(raw)} is not allowed")
                continue
            if name.lower().startswith("on"):
                self.add(f"<{element}> has an event handler attribute '{name}'")
            elif name in ("href", "xlink:href"):
                self._check_href(element, name, value)
            elif name in ATTRIBUTES or name.startswith(("aria-", "data-")):
                self._check_value(element, name, value)
                if name == "attributeName" and element in ANIMATION_ELEMENTS:
                    self._check_animated(element, value)
            else:
                self.add(f"<{element}> attribute '{name}' is not allowed")

    def _check_href(self, element: str, name: str, value: str) -> None:
        if element not in HREF_ELEMENTS:
            self.add(f"<{element}> may not have '{name}'")
            return
        problem = href_problem(element, value)
        if problem:
            self.add(f"<{element}> {problem}")

    def _check_value(self, element: str, name: str, value: str) -> None:
        for problem in css_problems(value, stylesheet=name == "style"):
            what = "style" if name == "style" else f"attribute '{name}'"
            self.add(f"<{element}> {what} {problem}")

    def _check_animated(self, element: str, target: str) -> None:
        if target.strip() not in ANIMATABLE:
            self.add(f"<{element}> may not animate {_shown(target)}")


def svg_problems(data: bytes) -> list[str]:
    """Reasons an SVG is unsafe to serve (each with its line); empty when it is safe."""
    checker = _Checker()
    parser = DefusedXMLParser(
        target=checker, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    checker.parser = parser.parser
    try:
        parser.feed(data)
        parser.close()
    except DefusedXmlException as exc:
        return [f"SVG declares a DTD or entities, which are not allowed ({type(exc).__name__})"]
    except ParseError as exc:
        return [f"SVG is not well-formed XML: {exc}"]
    except _Stop:
        pass
    problems = list(dict.fromkeys(checker.problems))
    if len(problems) > MAX_PROBLEMS:
        problems = [*problems[:MAX_PROBLEMS], f"and {len(problems) - MAX_PROBLEMS} more"]
    return problems
