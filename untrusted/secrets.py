"""Detection and redaction of things that look like credentials.

Used by the validator (a prompt, a knowledge document or a persona tests file must
never carry a key: ``secret_problems``) and by the plan
renderers and MCP results (secrets never reach output, the PR comment included).

Two ways to recognise a secret:

- by **shape**: named detectors for documented credential formats (cloud and
  SaaS keys, tokens, private keys, URLs with a password, webhook URLs, this
  project's own API keys, ``Authorization`` headers).  There is deliberately no
  entropy check: it flags prose, hashes and ids.
- by **name**: a map key such as ``password``, ``api_key``, ``Authorization``
  or ``aws_secret_access_key`` makes its whole value secret (``max_tokens`` and
  ``token_budget`` do not).

The detectors follow the formats that detect-secrets' named plugins look for,
written out here (see the README: that package is not a dependency).

Every detector names the literals one of which each of its matches contains
(``AKIA``, ``sk_``, ``xox``, ``-----BEGIN``, ``authorization``…): a text is folded
once and a detector none of whose literals it holds is skipped, so a text with no
credential-looking literal costs a few substring tests instead of 27 searches.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from personas_as_code.schemas.problems import Problem
from pydantic import BaseModel

REDACTED = "[REDACTED]"

# A value that is a placeholder, not a secret: ${VAR}, $VAR, <password>, {{ var }}, ****, xxxx.
_PLACEHOLDER = r"(?!\$\{|\$[A-Z_]|<|\{\{|\*{3}|[xX]{4}|%\()"
# A credential rather than a word: a digit, one of +/=._~, or capitals inside ("dXNlcjpw").
_NOT_A_WORD = r"(?=[A-Za-z0-9\-._~+/=:]*?(?:[0-9+/=]|[._~][A-Za-z0-9]|[a-z][A-Z]|[A-Z]{2}))"

# The characters outside ASCII that ``re`` matches with an ASCII letter when ignoring
# case, and that letter (tests/schemas/test_secret_prefilter.py derives this table
# from ``re`` itself over every code point).
FOLD_OUTSIDE_ASCII = {"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"}
_FOLD = str.maketrans(
    {**{chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)}, **FOLD_OUTSIDE_ASCII}
)


def fold(text: str) -> str:
    """``text`` with each character that ``re`` matches case-insensitively with an ASCII
    letter replaced by that letter in lower case.  Character for character (the same
    length), so wherever a detector matches, its literal is at the same place."""
    return text.lower() if text.isascii() else text.translate(_FOLD)


@dataclass(frozen=True)
class Detector:
    """A named credential shape; a ``secret`` group marks the secret part of a match.

    ``literals`` (lower case): every match contains one of them, compared on ``fold``ed
    text, so a text that holds none is skipped without searching (``may_match``).
    ``needs`` matches something every match contains (``AKIA``, ``://``): a text without
    it is skipped in one fast search instead of the full pattern's slow one, which
    keeps scanning megabytes of knowledge documents cheap.
    """

    kind: str
    pattern: re.Pattern[str]
    needs: re.Pattern[str] | None = None
    literals: tuple[str, ...] = ()

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Start and end of every secret this detector finds in ``text``."""
        if self.needs is not None and self.needs.search(text) is None:
            return []
        out = []
        for m in self.pattern.finditer(text):
            group = "secret" if "secret" in self.pattern.groupindex else 0
            if m.group(group):
                out.append(m.span(group))
        return out

    def may_match(self, folded: str) -> bool:
        """False when ``folded`` (a ``fold``ed text) cannot hold a match: none of the
        literals is in it."""
        return any(literal in folded for literal in self.literals)


def _detector(
    kind: str, pattern: str, flags: int = 0, needs: str | None = None, *, literals: str
) -> Detector:
    """A detector; ``literals``: lower-case words, one of which every match contains."""
    return Detector(
        kind,
        re.compile(pattern, flags),
        re.compile(needs) if needs else None,
        tuple(literals.split()),
    )


# The name's last words; "aws_secret_access_key" matches at "secret_access_key".
_KEY_NAME = (
    r"(?:api[_.-]?key|apikey|secret[_.-]?(?:access[_.-]?)?key|client[_.-]?secret|secret|"
    r"password|passwd|passphrase|pwd|private[_.-]?key|"
    r"(?:access|auth|api|refresh|bearer|session|id)[_.-]?token|token)"
)

DETECTORS: tuple[Detector, ...] = (
    _detector(
        "private key",
        r"(?P<secret>-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|.*\Z))",
        re.DOTALL,
        literals="-----begin",
    ),
    _detector(
        "personas catalogue API key",
        r"\bsk_per_[A-Za-z0-9_-]{20,}",
        needs="sk_per_",
        literals="sk_per_",
    ),
    _detector(
        "OpenAI-style API key",
        r"\bsk-(?:proj-|ant-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
        needs="sk-",
        literals="sk-",
    ),
    _detector(
        "AWS access key id",
        r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[0-9A-Z]{16}\b",
        needs="AKIA|ASIA|ABIA|ACCA|A3T",
        literals="akia asia abia acca a3t",
    ),
    _detector(
        "AWS secret access key",
        r"(?<![A-Za-z])(?i:aws)[A-Za-z0-9_.\- ]{0,40}?(?i:key)[\"']?\s*(?:[:=]|=>|\s)\s*[\"']?"
        r"(?P<secret>(?=[A-Za-z0-9/+]*[0-9/+])[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        needs="(?i:aws)",
        literals="aws",
    ),
    _detector(
        "AWS secret access key",
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b[\s\S]{1,80}?(?<![A-Za-z0-9/+])"
        r"(?P<secret>(?=[A-Za-z0-9/+]*[0-9/+])[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        needs="AKIA|ASIA",
        literals="akia asia",
    ),
    _detector(
        "GitHub token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})",
        needs="gh[pousr]_|github_pat_",
        literals="ghp_ gho_ ghu_ ghs_ ghr_ github_pat_",
    ),
    _detector(
        "GitLab token",
        r"\b(?:glpat|gldt|glft|glsoat|glrt|glcbt|glimt|glptt|glagent|gloas)-"
        r"[A-Za-z0-9_-]{20,}",
        needs="gl[a-z]+-",
        literals="glpat- gldt- glft- glsoat- glrt- glcbt- glimt- glptt- glagent- gloas-",
    ),
    _detector("Hugging Face token", r"\bhf_[A-Za-z0-9]{30,}\b", needs="hf_", literals="hf_"),
    _detector("Slack token", r"\bxox[abposre]-[A-Za-z0-9-]{10,}", needs="xox", literals="xox"),
    _detector(
        "Slack webhook URL",
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>[A-Za-z0-9_/-]+)",
        literals="https://hooks.slack.com/",
    ),
    _detector(
        "Discord webhook URL",
        r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/"
        r"(?P<secret>[A-Za-z0-9_-]+)",
        literals=".com/api/webhooks/",
    ),
    _detector("Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b", needs="AIza", literals="aiza"),
    _detector(
        "Google OAuth client secret",
        r"\bGOCSPX-[A-Za-z0-9_-]{28}\b",
        needs="GOCSPX-",
        literals="gocspx-",
    ),
    _detector(
        "Stripe secret key",
        r"\b[sr]k_(?:live|test)_[0-9A-Za-z]{16,}",
        needs="k_live_|k_test_",
        literals="k_live_ k_test_",
    ),
    _detector(
        "SendGrid API key",
        r"\bSG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{30,64}\b",
        needs=r"SG\.",
        literals="sg.",
    ),
    _detector("npm token", r"\bnpm_[A-Za-z0-9]{36}\b", needs="npm_", literals="npm_"),
    _detector("PyPI token", r"\bpypi-AgE[A-Za-z0-9_-]{50,}", needs="pypi-AgE", literals="pypi-age"),
    _detector(
        "Azure storage account key",
        r"(?i:AccountKey|SharedAccessKey)=(?P<secret>[A-Za-z0-9+/]{20,}={0,2})",
        needs="(?i:accesskey|accountkey)=",
        literals="accountkey= accesskey=",
    ),
    _detector(
        "Azure storage account key",
        r"(?i:azure|storage)[A-Za-z0-9_.\- ]{0,30}?(?i:key)[\"']?\s*[:=]\s*[\"']?"
        r"(?P<secret>[A-Za-z0-9+/]{86}==)",
        needs="(?i:azure|storage)",
        literals="azure storage",
    ),
    _detector(
        "Azure shared access signature",
        r"[?&]sig=(?P<secret>[A-Za-z0-9%+/=]{20,})",
        literals="sig=",
    ),
    _detector(
        "JSON web token",
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        needs="eyJ",
        literals="eyj",
    ),
    _detector(
        "URL with a password",
        r"\b[A-Za-z][A-Za-z0-9+.-]{1,30}://[^\s/?#@:\"'<>]*:" + _PLACEHOLDER + r"(?P<secret>"
        r"[^\s/?#@\"'<>]+)@",
        needs="://",
        literals="://",
    ),
    _detector(
        "Authorization header",
        r"(?i:(?:proxy-)?authorization)[\"']?\s*[:=]\s*[\"']?"
        r"(?i:bearer|basic|token|apikey)\s+" + _PLACEHOLDER + _NOT_A_WORD + r"(?P<secret>"
        r"[A-Za-z0-9\-._~+/=:]{6,})",
        needs="(?i:authorization)",
        literals="authorization",
    ),
    _detector(
        "Authorization header",
        r"(?i:(?:proxy-)?authorization)[\"']?\s*[:=]\s*[\"']?" + _PLACEHOLDER + r"(?P<secret>"
        r"(?=[A-Za-z\-._~+/=:]*[0-9])[A-Za-z0-9\-._~+/=:]{16,})",
        needs="(?i:authorization)",
        literals="authorization",
    ),
    _detector(
        "bearer token",
        r"\b(?i:bearer)\s+(?P<secret>(?=[A-Za-z\-._~+/]*[0-9])[A-Za-z0-9\-._~+/]{16,}=*)",
        needs="(?i:bearer)",
        literals="bearer",
    ),
    _detector(
        "credential assignment",
        r"(?<![A-Za-z0-9])(?i:"
        + _KEY_NAME
        + r")(?![A-Za-z0-9])[\"']?\s*(?:[:=]|=>)\s*[\"']?"
        + _PLACEHOLDER
        + r"(?P<secret>[A-Za-z0-9_\-+/=.!@#$%^&*~]{16,})",
        # a name's last word then its separator: "max_tokens: 800" is not searched
        needs=r"(?i:key|secret|password|passwd|passphrase|pwd|token)(?![A-Za-z0-9])"
        r"[\"']?\s*(?:[:=]|=>)",
        literals="key secret password passwd passphrase pwd token",
    ),
)


@dataclass(frozen=True)
class SecretFinding:
    """Where a secret-looking string was found (1-based line and column)."""

    kind: str
    line: int
    col: int


def _spans(text: str, *, prefilter: bool = True) -> list[tuple[int, int, str]]:
    """Secret spans in ``text``, in order, overlaps resolved in favour of the earlier
    start and then the more specific detector (the earlier one in ``DETECTORS``).

    ``prefilter``: skip the detectors whose literals the text does not hold (the
    same spans, checked by the tests against ``prefilter=False``)."""
    folded = fold(text) if prefilter else ""
    found = [
        (start, order, end, d.kind)
        for order, d in enumerate(DETECTORS)
        if not prefilter or d.may_match(folded)
        for start, end in d.spans(text)
    ]
    found.sort()
    spans: list[tuple[int, int, str]] = []
    for start, _order, end, kind in found:
        if spans and start < spans[-1][1]:
            if end > spans[-1][1]:
                spans[-1] = (spans[-1][0], end, spans[-1][2])
            continue
        spans.append((start, end, kind))
    return spans


def find_secrets(text: str) -> list[SecretFinding]:
    """Every secret-looking match in ``text``, in order of position."""
    findings = []
    for start, _end, kind in _spans(text):
        line = text.count("\n", 0, start) + 1
        col = start - (text.rfind("\n", 0, start) + 1) + 1
        findings.append(SecretFinding(kind, line, col))
    return findings


def secret_problems(
    text: str,
    path: str,
    where: Callable[[SecretFinding], tuple[int, int]] | None = None,
    *,
    holder: str = "a persona",
    findings: Sequence[SecretFinding] | None = None,
) -> list[Problem]:
    """A validation error (code ``secret``) for every secret in ``text``, never quoting
    it: the detector's kind and where it is.  ``where`` maps a finding (its line and
    column in ``text``) to a place in ``path``, the finding's own when omitted (``text``
    is the whole file); ``holder`` names what must not hold secrets; ``findings`` are
    ``find_secrets(text)`` when the caller already has them."""
    problems = []
    for finding in find_secrets(text) if findings is None else findings:
        line, col = where(finding) if where is not None else (finding.line, finding.col)
        problems.append(
            Problem(
                path,
                line,
                col,
                f"this looks like a {finding.kind}; secrets must not be stored in {holder} "
                "(remove it and use a secret store)",
                code="secret",
            )
        )
    return problems


def redact(text: str) -> str:
    """``text`` with every secret-looking part replaced by ``[REDACTED]``."""
    spans = _spans(text)
    if not spans:
        return text
    parts, last = [], 0
    for start, end, _kind in spans:
        parts += [text[last:start], REDACTED]
        last = end
    parts.append(text[last:])
    return "".join(parts)


def redact_upstream(text: str, known: Iterable[str] = (), limit: int = 300) -> str:
    """Text from outside (an upstream's error message) made fit to show anywhere: each
    ``known`` secret value (the key sent to that upstream) and every secret-looking part
    replaced by ``[REDACTED]``, whitespace collapsed, at most ``limit`` characters."""
    for value in known:
        if len(value) >= MIN_KNOWN_SECRET:
            text = text.replace(value, REDACTED)
    text = redact(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


MIN_KNOWN_SECRET = 4
"""A known secret shorter than this is not searched for (it would blank ordinary words)."""


# --- by name ---------------------------------------------------------------------

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# A key naming one of these anywhere is a secret ("db_password", "client_secret_value").
_SECRET_ANYWHERE = frozenset(
    {"password", "passwd", "passphrase", "secret", "secrets", "credential", "credentials",
     "apikey", "privatekey"}
)  # fmt: skip
# These only as the last word, the one the key is about: "access_token" is a secret,
# "token_budget" and "max_tokens" are not.
_SECRET_LAST = frozenset({"token", "pwd", "cookie", "cookies", "authorization", "auth"})
# "<qualifier>_key" is a secret key; a plain "key" or "sort_key" is not.
_KEY_QUALIFIERS = frozenset(
    {"api", "secret", "private", "access", "signing", "encryption", "master", "account",
     "client", "shared", "subscription", "license", "licence"}
)  # fmt: skip


def is_secret_key(name: str) -> bool:
    """Whether a map key names a secret (case and ``-``/``_``/``.``/camelCase insensitive)."""
    words = [w.lower() for w in _WORD.findall(name)]
    if not words:
        return False
    joined = "".join(words)
    if joined in _SECRET_ANYWHERE or any(w in _SECRET_ANYWHERE for w in words):
        return True
    last = words[-1]
    if last in _SECRET_LAST:
        return True
    return last in ("key", "keys") and len(words) > 1 and words[-2] in _KEY_QUALIFIERS


# A whole value that is an Authorization header: a scheme and one credential-looking word.
_AUTH_VALUE = re.compile(
    r"\s*(?i:bearer|basic|token|negotiate|ntlm|apikey)\s+"
    + _NOT_A_WORD
    + r"[A-Za-z0-9\-._~+/=:]{4,}\s*"
)


def redact_data(value: Any, key: str = "") -> Any:
    """A copy of a JSON-like ``value`` with secrets redacted: values under secret-named
    keys, whole ``Authorization``-style values (``Bearer …``), secret-shaped strings and
    secret-shaped map keys.  Tuples stay tuples; other types are returned as they are."""
    if key and is_secret_key(key) and value not in (None, "", {}, [], ()):
        return value if isinstance(value, bool) else REDACTED
    if isinstance(value, str):
        return REDACTED if _AUTH_VALUE.fullmatch(value) else redact(value)
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            shown = redact(k) if isinstance(k, str) else k
            n = 1
            while shown in out:  # two secret keys must not collapse into one
                n += 1
                shown = f"{REDACTED} ({n})"
            out[shown] = redact_data(v, str(k))
        return out
    if isinstance(value, list):
        return [redact_data(v) for v in value]
    if isinstance(value, tuple):
        return tuple(redact_data(v) for v in value)
    return value


Model = TypeVar("Model", bound=BaseModel)


def redact_structure(
    value: Any, key: str = "", recurse: Callable[[Any, str], Any] | None = None
) -> Any:
    """``value`` with secrets redacted: each field of a dataclass (under its name), each
    item of a list or tuple, and ``redact_data`` for the rest.  Parts go through
    ``recurse`` (default: this function), so a caller can treat some types its own way."""
    again = recurse or redact_structure
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: again(getattr(value, f.name), f.name)
            for f in dataclasses.fields(value)
            if f.init
        }
        return dataclasses.replace(value, **changes)
    if isinstance(value, list):
        return [again(v, "") for v in value]
    if isinstance(value, tuple):
        return tuple(again(v, "") for v in value)
    return redact_data(value, key)


def redact_model(model: Model) -> Model:
    """A copy of the pydantic ``model`` (a run's or a preview's result) with every field
    passed through ``redact_data``, to show it on any surface."""
    return type(model).model_validate(redact_data(model.model_dump(mode="json")))
