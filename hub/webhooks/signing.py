"""What goes on the wire: the secret, the CloudEvents 1.0 body and the Standard Webhooks signature headers.

Signing is the ``standardwebhooks`` package's own (``Webhook.sign``), so a receiver that verifies with
any Standard Webhooks library agrees with the hub byte for byte. During a rotation's grace period the
body is signed with both secrets, space-separated in one ``webhook-signature`` header, as the
specification allows: a receiver still holding the old secret verifies the old signature.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import secrets
from collections.abc import Mapping, Sequence

from standardwebhooks import Webhook

from hub.operations.errors import InvalidInput

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # 256 bits, as large as the HMAC-SHA256 block wants to be useful
CLOUDEVENTS_TYPE = "application/cloudevents+json; charset=utf-8"
ATTEMPT_HEADER = "perfhub-attempt"
"""The attempt's number (1, 2, ...): the receiver can log retries; webhook-id stays the event's id."""


def new_secret() -> str:
    """A fresh signing secret in the Standard Webhooks format: ``whsec_`` and base64 of random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def event_cursor(outbox_id: int) -> str:
    """The event's cursor as ``resultEvents`` and ``resultPublished`` give it (``after``), so that a receiver
    can resume or replay from the last event it handled with the same value."""
    return base64.urlsafe_b64encode(f"event:{outbox_id}".encode()).decode()


def parse_event_cursor(cursor: str, field: str) -> int:
    """The outbox id of a cursor :func:`event_cursor` made; anything else is bad input naming ``field``."""
    try:
        kind, _, key = base64.urlsafe_b64decode(cursor.encode("ascii")).decode().partition(":")
    except (ValueError, UnicodeError, binascii.Error):
        kind, key = "", ""
    if kind != "event" or not key.isascii() or not key.isdigit() or len(key) > 10:
        raise InvalidInput(f"not an event cursor from this API: {cursor[:40]!r}", field=field)
    return int(key)


def cloud_event(
    *, event_id: str, event_type: str, source: str, occurred_at: dt.datetime, outbox_id: int, data: Mapping[str, object]
) -> bytes:
    """The event as a CloudEvents 1.0 JSON document (structured content mode).

    ``id`` is the outbox event's id, so a redelivery carries the same id (and ``webhook-id``) and the
    receiver de-duplicates by it; ``perfhubcursor`` is an extension attribute holding the event's cursor.
    """
    document = {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": event_type,
        "time": occurred_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "subject": f"result/{data['resultId']}",
        "perfhubcursor": event_cursor(outbox_id),
        "data": dict(data),
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def signature_headers(
    *, event_id: str, body: bytes, secrets_in_force: Sequence[str], now: dt.datetime, attempt: int
) -> dict[str, str]:
    """The request's headers: content type, ``webhook-id``, ``webhook-timestamp`` and one ``v1`` signature
    per secret in force (the current one first)."""
    text = body.decode()
    signatures = " ".join(Webhook(secret).sign(event_id, now, text) for secret in secrets_in_force)
    return {
        "content-type": CLOUDEVENTS_TYPE,
        "webhook-id": event_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures,
        ATTEMPT_HEADER: str(attempt),
    }
