"""The secret scan's literal prefilter skips only detectors that cannot match.

Every detector names literals one of which each of its matches holds; ``_spans``
skips a detector whose literals a text does not hold (compared on ``fold``ed text).
These tests hold the prefiltered scan to the unfiltered one over the whole bad-input
corpus, the secret samples, the example repo and generated texts, and derive the
case-folding table from ``re`` itself.
"""

from __future__ import annotations

import re
import string
import sys

from hypothesis import given, settings
from hypothesis import strategies as st
from personas_as_code.untrusted.secrets import (
    DETECTORS,
    FOLD_OUTSIDE_ASCII,
    Detector,
    _spans,
    find_secrets,
    fold,
    redact,
)

from tests.repos import DATA, EXAMPLES

# Each detector's kind of secret, written so that only its literals' case differs from
# what the detector documents, plus the characters ``re`` folds onto ASCII letters.
SAMPLES = [
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
    "key sk_per_" + "a1" * 12,
    "openai sk-proj-" + "Ab3" * 8,
    "id AKIAIOSFODNN7EXAMPLF and A3T0IOSFODNN7EXAMPLF",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_SECRET_KEY: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "\u212aey AKIAIOSFODNN7EXAMPLF then wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "ghp_" + "a" * 36 + " github_pat_" + "b" * 40,
    "glpat-" + "x1" * 10,
    "hf_" + "Q" * 30,
    "xoxb-1234567890-abc",
    "https://hooks.slack.com/services/T000/B000/XXXX",
    "https://discord.com/api/webhooks/123/abcDEF",
    "AIza" + "B" * 35,
    "GOCSPX-" + "c" * 28,
    "sk_live_" + "d" * 16 + " rk_test_" + "e" * 16,
    "SG." + "f" * 20 + "." + "g" * 40,
    "npm_" + "h" * 36,
    "pypi-AgE" + "i" * 50,
    "DefaultEndpointsProtocol=https;AccountKey=" + "j" * 30 + "==",
    "sharedACCESSkey=" + "k1" * 12,
    "AZURE_STORAGE_KEY=" + "l" * 86 + "==",
    "https://x.blob.core.windows.net/c?sv=1&sig=" + "m" * 30,
    "eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.SflKxwRJSMeKKF2QT4",
    "postgres://user:hunter2hunter2@db.example.com/app",
    "Authorization: Bearer abc123def456ghi789",
    "AUTHORIZATION = token 9f8e7d6c5b4a",
    "author\u0130zation: Bearer abc123def456ghi789",
    "author\u0131zation: Bearer abc123def456ghi789",
    "Proxy-Authorization: 0123456789abcdef0123",
    "BEARER abcdefgh12345678ijkl",
    "pa\u017fsword = correct-horse-battery-staple",
    "api_\u212aey: 0123456789abcdef0123",
    "clientSecret => s3cr3t-v4lu3-1234567",
    "ID_TOKEN=abcdefghijklmnop1234",
    "pwd: zzzzzzzzzzzzzzzz9",
    'config = {"Passphrase" => "abcdefghijklmnop1234"}',
    "SECRET_ACCESS_KEY\t= 'abcdefghijklmnop1234'",
]


def corpus() -> list[str]:
    """Every text of the bad-input corpus, the secret samples and the example repo."""
    roots = [DATA / "bad", DATA / "secrets", DATA / "knowledge"]
    roots += [EXAMPLES / "personas", EXAMPLES / "test-personas"]
    texts = list(SAMPLES)
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            raw = path.read_bytes()
            texts.append(raw.decode("utf-8", errors="surrogateescape"))
            texts.append(raw.decode("latin-1"))
    return texts


def bare_spans(detector: Detector, text: str) -> list[tuple[int, int]]:
    """The detector's pattern alone: no ``needs`` search, no literals."""
    group = "secret" if "secret" in detector.pattern.groupindex else 0
    return [m.span(group) for m in detector.pattern.finditer(text) if m.group(group)]


def assert_same_scan(text: str) -> None:
    assert _spans(text) == _spans(text, prefilter=False)
    folded = fold(text)
    assert len(folded) == len(text)
    for detector in DETECTORS:
        bare = bare_spans(detector, text)
        assert detector.spans(text) == bare, (detector.kind, text[:80])  # ``needs`` is sound
        if bare:  # any match means a literal is there
            assert detector.may_match(folded), (detector.kind, text[:80])


def test_every_detector_names_literals_in_lower_case() -> None:
    assert len(DETECTORS) == 27  # no detector dropped
    for detector in DETECTORS:
        assert detector.literals, detector.kind
        assert all(lit == fold(lit) for lit in detector.literals), detector.kind


def test_the_fold_table_is_what_re_matches_ignoring_case() -> None:
    everything = "".join(
        chr(c) for c in range(0x80, sys.maxunicode + 1) if not 0xD800 <= c < 0xE000
    )
    derived = {}
    for match in re.finditer(r"(?i)[\x00-\x7f]", everything):
        char = match.group()
        derived[char] = next(
            a.lower() for a in map(chr, range(128)) if re.fullmatch("(?i)" + re.escape(a), char)
        )
    assert derived == FOLD_OUTSIDE_ASCII


def test_every_sample_is_found_and_the_prefilter_finds_the_same() -> None:
    for text in SAMPLES:
        assert _spans(text), text
        assert_same_scan(text)


def test_prefiltered_scan_equals_the_full_scan_over_the_corpus() -> None:
    texts = corpus()
    assert len(texts) > 100
    for text in texts:
        assert_same_scan(text)
        # the public functions go through the prefilter
        assert [(f.line, f.col, f.kind) for f in find_secrets(text)] == [
            (text.count("\n", 0, s) + 1, s - (text.rfind("\n", 0, s) + 1) + 1, k)
            for s, _e, k in _spans(text, prefilter=False)
        ]


def test_a_plain_prompt_runs_no_detector() -> None:
    prompt = "You are bench persona 7.\nAnswer briefly and cite your sources.\n"
    assert [d.kind for d in DETECTORS if d.may_match(fold(prompt))] == []
    assert redact(prompt) == prompt


FRAGMENTS = [
    *sorted({lit for d in DETECTORS for lit in d.literals}),
    *FOLD_OUTSIDE_ASCII,
    "AKIA",
    "Bearer ",
    "Authorization: ",
    "max_tokens",
    "_token",
    '"',
    "=>",
    "\t",
    " = ",
    ": ",
    "://u:p@",
    "=",
    "-----END PRIVATE KEY-----",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "0123456789abcdef",
    "\n",
    "\u00e9",
    "\U0001f600",
]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(FRAGMENTS),
            st.sampled_from(FRAGMENTS).map(str.upper),
            st.text(alphabet=string.ascii_letters + string.digits + "_-./+=:", max_size=24),
            st.text(max_size=8),
        ),
        max_size=30,
    ).map("".join)
)
def test_prefiltered_scan_equals_the_full_scan_on_generated_text(text: str) -> None:
    assert_same_scan(text)
