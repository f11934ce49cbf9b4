"""HTTP Basic authentication, as the demo payroll (OData) and training (xAPI) systems check it."""

from __future__ import annotations

import secrets
from base64 import b64decode

from starlette.requests import Request


def basic_authorised(request: Request, credentials: tuple[str, str]) -> bool:
    """Whether the request's ``Authorization: Basic`` header carries exactly ``(user, password)``.

    Both halves are compared in constant time, and both always: how long a refusal takes tells nothing
    about which half was wrong.
    """
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = b64decode(encoded, validate=True).decode().partition(":")
    except ValueError:
        return False
    return secrets.compare_digest(user, credentials[0]) & secrets.compare_digest(password, credentials[1])
