"""Stored rows made servable: one bad row must never break a listing.

Everything written through the API is strict JSON (``catalogue.api`` refuses
the rest), but a row can be written some other way: an older version, a
manual ``UPDATE``, another tool sharing the database.  Such a row may hold
what no JSON encoder can send (a lone surrogate, NaN or Infinity, nesting a
thousand deep) or what the response model refuses (an unknown enum value).
Served as is, it would make every listing of its tenant fail.

``served`` builds the response model from a row's values and repairs what it
must, with a warning naming the row: in free-form JSON, lone surrogates
become U+FFFD, non-finite numbers become null and anything nested deeper than
``MAX_JSON_DEPTH`` becomes null; a field the model refuses is served at its
default.  A healthy row costs no walk: a JSON column read as text is vouched for by
its text as it is decoded (``stored_json``), a decoded map by one C-speed encoding
(``_surely_strict``); only what they cannot vouch for is walked (``json_problems``).
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
from typing import Any, TypeVar

from personas_as_code.schemas.jsonvalue import MAX_JSON_DEPTH, json_problems
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger(__name__)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(value: str) -> str:
    """``value`` with surrogate pairs joined and lone surrogates replaced by U+FFFD."""
    if not _SURROGATE.search(value):
        return value
    joined = value.encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass")
    return _SURROGATE.sub("\ufffd", joined)


def _repaired(value: Any, depth: int = 0) -> Any:
    """A copy of a decoded JSON value that every strict encoder accepts."""
    if depth > MAX_JSON_DEPTH:
        return None
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {_text(str(k)): _repaired(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_repaired(v, depth + 1) for v in value]
    if value is None or isinstance(value, bool | int):
        return value
    return _text(str(value))


_LONG_NUMBER = re.compile(r"\d{19}")
_NUL = "\\u0000"


_ENCODER = json.JSONEncoder(allow_nan=False, ensure_ascii=False, check_circular=False)


def _surely_strict(value: dict[str, Any], *, decoded: bool) -> bool:
    """True only when ``value`` is certainly strict JSON, decided at C speed; False means
    "walk it" (``json_problems``), never "refuse it".

    The encoder refuses NaN, Infinity and anything but JSON types.  Unless ``value`` was
    decoded from JSON text (whose map keys are strings and which holds no tuples),
    decoding the encoder's text back equal rules out keys it would have turned into
    strings.  The text then shows a lone surrogate (it does not encode), a NUL
    (``\\u0000``), an integer that may pass 64 bits (19 digits in a row: strings holding
    such digits are walked too) and a depth over ``MAX_JSON_DEPTH`` (more brackets than
    that in all).
    """
    try:
        text = _ENCODER.encode(value)
        if not decoded and json.loads(text) != value:
            return False
        if not text.isascii():
            text.encode("utf-8")
    except (TypeError, ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        return False
    return (
        _NUL not in text
        and text.count("{") + text.count("[") <= MAX_JSON_DEPTH
        and _LONG_NUMBER.search(text) is None
    )


class _Suspect(Exception):
    """A number in a JSON text that strict JSON does not hold."""


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400
        raise _Suspect(text)
    return value


def _int(text: str) -> int:
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise _Suspect(text)
    return value


def _constant(text: str) -> float:
    raise _Suspect(text)  # NaN, Infinity, -Infinity


# decodes as ``json.loads`` does, refusing the numbers strict JSON does not hold
_STRICT_NUMBERS = json.JSONDecoder(parse_float=_float, parse_int=_int, parse_constant=_constant)

# the same decoder's C scanner, without ``decode``'s Python wrapper (a text as stored has
# no white space around its value: one that has, or that fails, takes ``decode``)
_STRICT_SCAN = _STRICT_NUMBERS.scan_once  # type: ignore[attr-defined]  # (not in typeshed)


def stored_json(text: str) -> tuple[Any, bool]:
    """A JSON column's text decoded (as ``json.loads`` does), and whether the text alone
    vouches that the value is strict JSON (False: serve it through ``servable_json``).

    The numbers are checked as they are decoded; the text then shows a surrogate or a
    NUL (escaped or not: an escape inside a string may be harmless, and is walked), and
    a depth over ``MAX_JSON_DEPTH`` (more brackets than that in all).  Map keys decoded
    from text are strings."""
    try:
        value, end = _STRICT_SCAN(text, 0)
    except _Suspect:
        return json.loads(text), False
    except (StopIteration, ValueError, RecursionError):
        end = -1
    if end != len(text):  # white space around the value, or not JSON: as ``decode`` says
        try:
            value = _STRICT_NUMBERS.decode(text)
        except _Suspect:
            return json.loads(text), False
    return value, _clean_text(text)


def _clean_text(text: str) -> bool:
    """Whether a JSON text whose numbers are strict shows nothing ``stored_json`` must
    have walked: no NUL, no escaped surrogate or NUL, at most ``MAX_JSON_DEPTH``
    brackets, and only characters UTF-8 encodes."""
    return (
        "\x00" not in text
        and ("\\u" not in text or _no_bad_escape(text))
        and (len(text) <= MAX_JSON_DEPTH or text.count("{") + text.count("[") <= MAX_JSON_DEPTH)
        and (text.isascii() or _encodes(text))
    )


def _no_bad_escape(text: str) -> bool:
    return "\\ud" not in text and "\\uD" not in text and "\\u0000" not in text


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def servable_json(value: Any, *, where: str, decoded: bool = False) -> Any:
    """A JSON map unchanged when it is strict JSON, else a repaired copy (and a warning);
    anything but a map (a plain column, a list of models) is left alone.  ``decoded``:
    the map was decoded from JSON text (a JSON column's value), so its keys are strings."""
    if not isinstance(value, dict) or _surely_strict(value, decoded=decoded):
        return value
    # the size cap is an input rule; a big stored value still encodes fine
    problems = json_problems(value, max_nodes=sys.maxsize)
    if not problems:
        return value
    log.warning(
        "%s holds a value no strict JSON encoder accepts (%s); serving it repaired",
        where,
        _loggable(
            "; ".join(f"{'.'.join(map(str, p)) or '(root)'}: {why}" for p, why in problems[:3])
        ),
    )
    return _repaired(value)


def _loggable(text: str) -> str:
    """Stored text for a log line: a lone surrogate (a key of a poisoned row) is shown
    escaped (``\\udfff``), so the line encodes as UTF-8 in any log handler."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def served(model: type[M], where: str, clean: frozenset[str] = frozenset(), /, **fields: Any) -> M:
    """``model(**fields)`` for a stored row (its maps decoded from JSON columns), repaired
    so it can always be served; the fields named in ``clean`` are known strict JSON
    (``stored_json`` vouched for their text)."""
    values = {
        name: servable_json(value, where=f"{where}, field {name}", decoded=True)
        if isinstance(value, dict) and name not in clean
        else value
        for name, value in fields.items()
    }
    try:
        return model(**values)
    except ValidationError as exc:
        refused = {str(err["loc"][0]) for err in exc.errors() if err.get("loc")}
        log.warning(
            "%s holds values its model refuses (%s); serving them as their defaults",
            where,
            ", ".join(sorted(refused)),
        )
        return model(**{k: v for k, v in values.items() if k not in refused})
