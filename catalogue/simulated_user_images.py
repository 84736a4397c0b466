"""Portraits for ``generate-image``: from an OpenAI-compatible image endpoint, or
drawn locally.

``local_portrait`` draws a deterministic SVG head-and-shoulders portrait from
the persona's name and prompt: a sha256 of both picks the background colours,
skin and hair tones, hair style, glasses, eye spacing and clothing; the
prompt's mood words (impatient, confused, friendly...) set the eyebrows and the
mouth; the name's initials sit on a badge.  The same persona always gets the
same picture, and every picture passes the avatar checks
(``loader.avatar.check_avatar``).

``openai_portrait`` asks ``POST {base_url}/images/generations`` (OpenAI, or any
server speaking its images API) for one ``b64_json`` image, with a timeout and
a cap on the answer's size, and checks the bytes like an avatar upload.  An
answer that only gives a URL is refused rather than fetched (the server would
otherwise fetch whatever a remote endpoint names).
"""

from __future__ import annotations

import base64
import binascii
import colorsys
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from personas_as_code.loader.avatar import check_avatar, sniff_mime
from personas_as_code.schemas.errors import (
    CatalogueError,
    ImageGenerationFailed,
    ImageProviderNotConfigured,
)
from personas_as_code.schemas.fields import AVATAR_MAX_BYTES
from personas_as_code.schemas.simulated_user_config import ImageSettings

if TYPE_CHECKING:
    import httpx  # loaded by the one call that generates a portrait

MAX_IMAGE_PROMPT_CHARS = 1000
# base64 of the largest image accepted, plus room for the JSON around it
MAX_ANSWER_BYTES = AVATAR_MAX_BYTES * 4 // 3 + 64 * 1024
EXTENSION_BY_MIME = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/svg+xml": "svg",
}


@dataclass(frozen=True)
class Portrait:
    """An image and its type."""

    data: bytes
    content_type: str

    @property
    def extension(self) -> str:
        return EXTENSION_BY_MIME[self.content_type]


# --- the local portrait --------------------------------------------------------

_SKIN = ("#f5d0b5", "#e8b896", "#d29a72", "#b07850", "#8d5a3b", "#5f3b26")
_HAIR = ("#1f1a17", "#3b2a20", "#6b4a2f", "#a0703c", "#d8b26a", "#8a8a8a", "#b5462f")
_MOODS = {
    "impatient": ("impatient", "annoyed", "angry", "frustrated", "rushed", "hurry", "quick"),
    "confused": ("confused", "beginner", "unsure", "lost", "first time", "does not know"),
    "happy": ("friendly", "happy", "cheerful", "polite", "enthusiastic", "kind"),
}
_MOUTHS = {
    "impatient": "M108 146 L148 146",
    "confused": "M108 148 Q118 142 128 148 Q138 154 148 146",
    "happy": "M106 142 Q128 162 150 142",
    "neutral": "M110 146 Q128 152 146 146",
}
_BROWS = {
    "impatient": ("M94 98 L118 106", "M138 106 L162 98"),
    "confused": ("M94 100 Q106 92 118 100", "M138 96 L162 96"),
    "happy": ("M94 100 Q106 94 118 100", "M138 100 Q150 94 162 100"),
    "neutral": ("M96 100 L118 100", "M138 100 L160 100"),
}


# characters XML 1.0 cannot carry (a name may hold them: the API takes any string)
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    """``text`` escaped for an XML text node, characters XML cannot hold replaced."""
    return escape(_NOT_XML.sub("\ufffd", text))


def _hex(hue: float, saturation: float, lightness: float) -> str:
    r, g, b = colorsys.hls_to_rgb(hue % 1.0, lightness, saturation)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def mood_of(text: str) -> str:
    """The mood a prompt describes (the first mood word found), or ``neutral``."""
    lower = text.lower()
    found = [
        (lower.find(word), mood)
        for mood, words in _MOODS.items()
        for word in words
        if word in lower
    ]
    return min(found)[1] if found else "neutral"


def initials(name: str) -> str:
    """Up to two ASCII initials of ``name`` (``?`` when it has no letter or digit)."""
    words = re.findall(r"[A-Za-z0-9]+", name)
    return "".join(w[0] for w in words[:2]).upper() or "?"


def _hair(style: int, colour: str) -> str:
    if style == 0:  # short
        return f'<path d="M72 112 Q70 52 128 50 Q186 52 184 112 Q170 76 128 74 Q86 76 72 112Z" fill="{colour}"/>'  # noqa: E501
    if style == 1:  # long
        return (
            f'<path d="M66 180 Q58 56 128 48 Q198 56 190 180 L172 180 Q176 90 128 78 '
            f'Q80 90 84 180Z" fill="{colour}"/>'
        )
    if style == 2:  # bun
        return (
            f'<circle cx="128" cy="44" r="20" fill="{colour}"/>'
            f'<path d="M74 108 Q72 56 128 54 Q184 56 182 108 Q166 80 128 78 Q90 80 74 108Z" '
            f'fill="{colour}"/>'
        )
    return f'<path d="M80 84 Q128 40 176 84 Q128 64 80 84Z" fill="{colour}"/>'  # receding


def local_portrait(name: str, system_prompt: str) -> Portrait:
    """A deterministic SVG portrait of a simulated user (see the module docstring)."""
    digest = hashlib.sha256(f"{name}\x00{system_prompt}".encode()).digest()
    hue = digest[0] / 255
    background_top = _hex(hue, 0.55, 0.78)
    background_bottom = _hex(hue + 0.08 + digest[1] / 255 * 0.2, 0.5, 0.6)
    clothing = _hex(hue + 0.5, 0.45, 0.42)
    skin = _SKIN[digest[2] % len(_SKIN)]
    hair = _hair(digest[3] % 4, _HAIR[digest[4] % len(_HAIR)])
    spread = 20 + digest[5] % 6
    glasses = digest[6] % 3 == 0
    mood = mood_of(system_prompt or name)
    left_brow, right_brow = _BROWS[mood]
    eyes = (
        f'<circle cx="{128 - spread}" cy="116" r="5" fill="#222"/>'
        f'<circle cx="{128 + spread}" cy="116" r="5" fill="#222"/>'
    )
    if glasses:
        eyes += (
            f'<g fill="none" stroke="#333" stroke-width="3">'
            f'<circle cx="{128 - spread}" cy="116" r="13"/>'
            f'<circle cx="{128 + spread}" cy="116" r="13"/>'
            f'<line x1="{128 - spread + 13}" y1="116" x2="{128 + spread - 13}" y2="116"/></g>'
        )
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">'
        f"<title>{_xml_text(name[:200])}</title>"
        '<defs><linearGradient id="bg" x1="0" y1="0" x2="0" y2="1">'
        f'<stop offset="0" stop-color="{background_top}"/>'
        f'<stop offset="1" stop-color="{background_bottom}"/></linearGradient></defs>'
        '<rect width="256" height="256" fill="url(#bg)"/>'
        f'<path d="M40 256 Q44 186 128 180 Q212 186 216 256Z" fill="{clothing}"/>'
        f'<rect x="114" y="160" width="28" height="26" fill="{skin}"/>'
        f'<ellipse cx="128" cy="118" rx="52" ry="60" fill="{skin}"/>'
        f"{hair}{eyes}"
        f'<g fill="none" stroke="#2a2a2a" stroke-width="4" stroke-linecap="round">'
        f'<path d="{left_brow}" transform="translate({24 - spread} 0)"/>'
        f'<path d="{right_brow}" transform="translate({spread - 24} 0)"/>'
        f'<path d="{_MOUTHS[mood]}"/></g>'
        '<circle cx="214" cy="214" r="30" fill="#ffffff" fill-opacity="0.85"/>'
        '<text x="214" y="224" font-family="sans-serif" font-size="26" font-weight="bold" '
        f'text-anchor="middle" fill="{clothing}">{_xml_text(initials(name))}</text>'
        "</svg>"
    )
    return Portrait(svg.encode(), "image/svg+xml")


# --- an OpenAI-compatible image endpoint --------------------------------------


def image_prompt(name: str, description: str | None, system_prompt: str) -> str:
    """What the image endpoint is asked for, bounded to ``MAX_IMAGE_PROMPT_CHARS``."""
    about = " ".join(part for part in (description or "", system_prompt) if part)
    text = (
        f"A friendly illustrated head-and-shoulders portrait of a fictional person, '{name}', "
        f"for a software test persona. No text in the image. Who they are: {about}"
    )
    return text[:MAX_IMAGE_PROMPT_CHARS]


def _body(settings: ImageSettings, prompt: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": settings.model, "prompt": prompt, "n": 1}
    body["size"] = settings.size
    if not settings.model.startswith("gpt-image"):  # gpt-image-* always answer base64
        body["response_format"] = "b64_json"
    return body


def _read_capped(response: httpx.Response) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
        raise ImageGenerationFailed("the image endpoint's answer is too large")
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            raise ImageGenerationFailed("the image endpoint's answer is too large")
    return bytes(body)


def _decode_answer(raw: bytes) -> bytes:
    try:
        answer = json.loads(raw)
        item = answer["data"][0]
    except (ValueError, KeyError, IndexError, TypeError, RecursionError):
        raise ImageGenerationFailed("the image endpoint's answer is not an images answer") from None
    encoded = item.get("b64_json") if isinstance(item, dict) else None
    if not isinstance(encoded, str):
        raise ImageGenerationFailed(
            "the image endpoint answered without b64_json (a URL is not fetched)"
        )
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ImageGenerationFailed("the image endpoint's b64_json is not base64") from None


def openai_portrait(
    settings: ImageSettings,
    prompt: str,
    *,
    env: Mapping[str, str] = os.environ,
    transport: httpx.BaseTransport | None = None,
) -> Portrait:
    """One image from ``settings``' endpoint, checked like an avatar upload."""
    import httpx

    headers = {"Accept": "application/json"}
    if settings.api_key_env:
        key = env.get(settings.api_key_env)
        if not key:
            raise ImageProviderNotConfigured(
                f"the image endpoint's key variable {settings.api_key_env} is not set in the "
                "catalogue server's environment"
            )
        headers["Authorization"] = f"Bearer {key}"
    url = settings.base_url.rstrip("/") + "/images/generations"
    timeout = httpx.Timeout(settings.timeout_seconds, connect=min(settings.timeout_seconds, 10.0))
    try:
        with (
            httpx.Client(timeout=timeout, transport=transport) as client,
            client.stream("POST", url, json=_body(settings, prompt), headers=headers) as response,
        ):
            raw = _read_capped(response)
            status = response.status_code
    except httpx.TimeoutException:
        raise ImageGenerationFailed(
            f"the image endpoint did not answer within {settings.timeout_seconds:g}s"
        ) from None
    except httpx.HTTPError as exc:
        raise ImageGenerationFailed(
            f"the image endpoint cannot be reached ({type(exc).__name__})"
        ) from None
    if status >= 400:
        raise ImageGenerationFailed(
            f"the image endpoint answered HTTP {status}", details={"status": status}
        )
    data = _decode_answer(raw)
    mime = sniff_mime(data)
    if mime is None or mime == "image/svg+xml":
        raise ImageGenerationFailed("the image endpoint's answer is not a PNG, JPEG, GIF or WebP")
    try:
        check_avatar(data, mime)
    except CatalogueError as exc:
        raise ImageGenerationFailed(f"the generated image is refused: {exc.message}") from None
    return Portrait(data, mime)
