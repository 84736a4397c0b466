"""SVG avatars: the allow-list, through ``validate`` and through the REST upload.

Each file under ``tests/data/svg`` shows one case: ``bad_*`` files are refused
(each with the reason below), ``good_*`` files are accepted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.rest import create_app
from personas_as_code.loader.avatar import check_avatar
from personas_as_code.loader.repo import load_repo
from personas_as_code.schemas.errors import InvalidFileType
from personas_as_code.untrusted.svg import MAX_DEPTH, MAX_PROBLEMS, css_unescape, svg_problems
from sqlalchemy import Engine
from starlette.testclient import TestClient

from tests.catalogue.conftest import make_key
from tests.repos import MINIMAL, RepoBuilder

DATA = Path(__file__).parent.parent / "data" / "svg"
P = "/v1/modules/scaipersona"
NS = 'xmlns="http://www.w3.org/2000/svg"'

BAD = {
    "bad_xml_stylesheet_pi.svg": "line 1: processing instruction <?xml-stylesheet?>",
    "bad_xml_stylesheet_after_declaration.svg": "line 3: processing instruction",
    "bad_fill_external_url.svg": "<rect> attribute 'fill' loads an external resource",
    "bad_filter_external_url.svg": "<g> attribute 'filter' loads an external resource",
    "bad_animate_href_javascript.svg": '<animate> may not animate "href"',
    "bad_set_href_external.svg": 'line 4: <set> may not animate "href"',
    "bad_css_escaped_url.svg": "<style> loads an external resource",
    "bad_css_escaped_import.svg": "<style> loads an external resource (@import)",
    "bad_import_after_child.svg": "<style> loads an external resource (@import)",
    "bad_style_attribute_escaped_url.svg": "<rect> style loads an external resource",
    "bad_presentation_escaped_url.svg": "<rect> attribute 'fill' loads an external resource",
    "bad_cursor_external_url.svg": "<rect> attribute 'cursor' loads an external resource",
    "bad_embedded_svg_image.svg": "not a base64 data:image/png, jpeg, gif or webp",
    "bad_embedded_image_lies.svg": "declared as image/png whose bytes are image/gif",
    "bad_use_external.svg": '<use> references an external resource: "https://evil.example/',
    "bad_xhtml_script_in_metadata.svg": "<script> element of namespace",
    "bad_link_element.svg": "<a> element is not allowed",
    "bad_event_handler.svg": "event handler attribute 'onclick'",
    "bad_doctype_entities.svg": "declares a DTD or entities",
}
GOOD = sorted(p.name for p in DATA.glob("good_*.svg"))


def test_every_case_file_is_listed() -> None:
    assert sorted(p.name for p in DATA.glob("bad_*.svg")) == sorted(BAD)
    assert len(GOOD) >= 4


# --- validate ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BAD))
def test_validate_refuses_unsafe_svg(repo: RepoBuilder, name: str) -> None:
    repo.write("personas/avatars/a.svg", (DATA / name).read_bytes())
    repo.persona("p", MINIMAL + "avatar: avatars/a.svg\n")
    (problem,) = [str(p) for p in load_repo(repo.root).problems]
    assert problem.startswith("personas/p.yaml:3:"), problem
    assert "avatar 'avatars/a.svg': " in problem
    assert BAD[name] in problem, problem


@pytest.mark.parametrize("name", GOOD)
def test_validate_accepts_safe_svg(repo: RepoBuilder, name: str) -> None:
    repo.write("personas/avatars/a.svg", (DATA / name).read_bytes())
    repo.persona("p", MINIMAL + "avatar: avatars/a.svg\n")
    loaded = load_repo(repo.root)
    assert loaded.ok, [str(p) for p in loaded.problems]
    assert loaded.personas["p"].avatar.mime == "image/svg+xml"


# --- the REST upload -----------------------------------------------------------------


@pytest.fixture
def rest_app(sqlite_url: str) -> Iterator[tuple[TestClient, str]]:
    engine: Engine = make_engine(sqlite_url)
    app = create_app(engine)
    key = make_key(engine, "acme")
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, key
    engine.dispose()


def test_rest_upload_uses_the_same_allow_list(rest_app: tuple[TestClient, str]) -> None:
    client, key = rest_app
    auth = {"Authorization": f"Bearer {key}"}
    body = {"name": "Avatar test", "model_slug": "scaigrid/gpt-4o"}
    created = client.post(f"{P}/personas", json=body, headers=auth)
    assert created.status_code == 201, created.text
    url = f"{P}/personas/{created.json()['data']['id']}/avatar"

    def upload(name: str):
        files = {"file": (name, (DATA / name).read_bytes(), "image/svg+xml")}
        return client.post(url, files=files, headers=auth)

    for name, fragment in BAD.items():
        resp = upload(name)
        assert resp.status_code == 400, (name, resp.text)
        error = resp.json()["error"]
        assert error["code"] == "INVALID_FILE_TYPE", name
        assert fragment in error["message"], (name, error["message"])
        assert client.get(url).status_code == 404, name  # nothing stored
    for name in GOOD:
        resp = upload(name)
        assert resp.status_code == 200, (name, resp.text)
        served = client.get(url)
        assert served.content == (DATA / name).read_bytes()


# --- the mechanism -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("escaped", "plain"),
    [
        (r"u\72l(", "url("),
        (r"@\69mport", "@import"),
        (r"\75 rl(", "url("),
        (r"\000075rl(", "url("),
        (r"u\rl(", "url("),
        ("a\\\nb", "ab"),
        (r"\110000", "\ufffd"),
    ],
)
def test_css_unescape(escaped: str, plain: str) -> None:
    assert css_unescape(escaped) == plain


@pytest.mark.parametrize(
    ("css", "fragment"),
    [
        ("fill: u\\72l(https://x.example/a) /* a comment */", "external resource"),
        # "/*" escaped or inside a string starts no comment: what follows is live CSS
        ("x: a\\/*; fill: url(https://x.example/a); /* */", "external resource"),
        ("x: '/*'; fill: url(https://x.example/a); /* */", "external resource"),
        ("fill: URL( 'https://x.example/a' )", "external resource"),
        ("fill: url(#a), url(//x.example/a)", "external resource"),
        ("background: image-set('https://x.example/a.png' 1x)", "uses image-set"),
        ("width: expression(alert(1))", "uses expression"),
        ("fill: j\\61vascript:alert(1)", "javascript: URL"),
    ],
)
def test_style_attribute_bypasses(css: str, fragment: str) -> None:
    svg = f'<svg {NS}><rect style="{css}"/></svg>'.encode()
    problems = svg_problems(svg)
    assert problems and fragment in problems[0], problems


@pytest.mark.parametrize(
    "css",
    [
        "@namespace url(http://x.example);",
        "@font-face { src: url(https://x.example/f.woff) }",
        'rect { content: "/*" } @import "https://x.example/a.css"; /* */',
    ],
)
def test_stylesheet_at_rules_and_fonts(css: str) -> None:
    assert svg_problems(f"<svg {NS}><style>{css}</style></svg>".encode())


def test_comments_are_not_css() -> None:
    css = "/* @license MIT, see url(https://x.example/) */ rect { fill: url(#g) }"
    assert svg_problems(f"<svg {NS}><style>{css}</style></svg>".encode()) == []


def test_href_allows_only_fragments_and_raster_images() -> None:
    def href(element: str, value: str) -> list[str]:
        return svg_problems(f'<svg {NS}><{element} href="{value}"/></svg>'.encode())

    assert href("use", "#c") == []
    assert href("use", " #c ") == []
    for value in ("javascript:alert(1)", "java&#10;script:x", "//evil.example/a#b", "a.svg#b"):
        assert "external resource" in href("use", value)[0], value
    assert "may not have 'href'" in href("rect", "#c")[0]
    assert "external resource" in href("use", "data:image/png;base64,AAAA")[0]
    assert "not a base64 data:image" in href("image", "data:text/html,hello")[0]
    assert "base64 is invalid" in href("image", "data:image/png;base64,%%%")[0]


def test_processing_instruction_inside_the_document() -> None:
    problems = svg_problems(f"<svg {NS}><?xml-stylesheet href='a.css'?></svg>".encode())
    assert problems == [
        "line 1: processing instruction <?xml-stylesheet?> is not allowed (it loads a stylesheet)"
    ]


def test_deep_nesting_stops_early() -> None:
    depth = 100_000
    svg = f"<svg {NS}>".encode() + b"<g>" * depth + b"</g>" * depth + b"</svg>"
    assert svg_problems(svg) == [f"line 1: elements are nested more than {MAX_DEPTH} deep"]


def test_many_problems_are_capped() -> None:
    svg = f"<svg {NS}>".encode() + b"".join(b"<x%d/>" % i for i in range(50)) + b"</svg>"
    problems = svg_problems(svg)
    assert len(problems) == MAX_PROBLEMS + 1 and problems[-1] == "and 40 more"


@pytest.mark.parametrize(
    ("svg", "fragment"),
    [
        (b"<svg", "not well-formed XML"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><a:b/></svg>', "not well-formed XML"),
        (b'<html xmlns="http://www.w3.org/2000/svg"/>', "the root element is <html>"),
    ],
)
def test_broken_documents(svg: bytes, fragment: str) -> None:
    problems = svg_problems(svg)
    assert problems and fragment in problems[0], problems


def test_check_avatar_reports_every_problem_in_details() -> None:
    data = (DATA / "bad_animate_href_javascript.svg").read_bytes()
    with pytest.raises(InvalidFileType) as raised:
        check_avatar(data, "image/svg+xml")
    assert raised.value.details["problems"] == [
        "line 2: <a> element is not allowed",
        'line 3: <animate> may not animate "href"',
        "line 3: <animate> attribute 'values' contains a javascript: URL",
    ]
