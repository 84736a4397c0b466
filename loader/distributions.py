"""Installed distribution versions, for cache keys and model identities."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def installed_version(name: str) -> str:
    """The installed version of distribution ``name``, or ``"unknown"`` when it is not
    installed (a checkout run without installing)."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"
