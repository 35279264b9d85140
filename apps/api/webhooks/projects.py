"""Which project a GitHub repository belongs to: the host application decides.

A resolver is an async function `(repository) -> UUID | None` receiving the
`repository` object of the delivery as GitHub sends it; None means "not one of
ours" and the delivery is acknowledged and ignored. The default derives a
stable id from the repository's URL, `uuid5(NAMESPACE_URL, html_url)`, so a
project created with that id needs no lookup at all.

Replace it in code with `set_project_resolver(fn)`, or by configuration with
`GITHUB_PROJECT_RESOLVER=package.module:function`.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from uuid import UUID

from webhooks.github_events import github_uuid, require

Repository = Mapping[str, Any]
ProjectResolver = Callable[[Repository], Awaitable[UUID | None]]


async def default_project_resolver(repository: Repository) -> UUID | None:
    return github_uuid(require({"repository": repository}, "repository.html_url", str))


_resolver: ProjectResolver = default_project_resolver


def set_project_resolver(resolver: ProjectResolver | None) -> None:
    """Replace the resolver (None restores the default)."""
    global _resolver
    _resolver = resolver or default_project_resolver


def get_project_resolver() -> ProjectResolver:
    return _resolver


def load_project_resolver(spec: str) -> ProjectResolver:
    """Import `module:function`; ValueError with a one-line reason when that is not a resolver."""
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name!r}: {exc}") from None
    resolver = getattr(module, attribute, None)
    if resolver is None:
        raise ValueError(f"{module_name!r} has no attribute {attribute!r}")
    if not (inspect.iscoroutinefunction(resolver) or inspect.iscoroutinefunction(type(resolver).__call__)):
        raise ValueError(f"{spec} must be an async function (repository) -> UUID | None")
    return resolver  # type: ignore[no-any-return]
