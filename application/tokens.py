"""Token estimates and model context windows for previews.

No exact tokenizer is available offline (tiktoken downloads its encodings), so
``estimate_tokens`` is an approximation: ``max(ceil(chars / 4), ceil(words * 1.3))``
plus 4 tokens of per-message overhead.  It tends to over- rather than
under-estimate for English prose and code, which is the safe side for budgeting.
"""

from __future__ import annotations

import math

TOKEN_ESTIMATOR = "approx: max(ceil(chars/4), ceil(words*1.3)) + 4 per message (no tokenizer)"
MESSAGE_OVERHEAD = 4

DEFAULT_CONTEXT_WINDOW = 8192
DEFAULT_REPLY_RESERVATION = 1024
BUILTIN_CONTEXT_WINDOWS: dict[str, int] = {
    "scaigrid/gpt-4o": 128_000,
    "scaigrid/gpt-4o-mini": 128_000,
    "scaigrid/claude-sonnet-4": 200_000,
    "scaigrid/llama-3.1-8b": 8192,
    "scaigrid/mistral-large": 32_000,
}


def estimate_tokens(text: str) -> int:
    """Approximate token count of one message's content (see module docstring)."""
    by_chars = math.ceil(len(text) / 4)
    by_words = math.ceil(len(text.split()) * 1.3)
    return max(by_chars, by_words) + MESSAGE_OVERHEAD
