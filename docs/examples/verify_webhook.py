"""Verify a meterd webhook delivery: the Meterd-Signature header is sha256=<hex HMAC-SHA256 of the
raw body under the shared secret>. Keep the Meterd-Delivery ids you processed: a retry or a
redelivery after a meterd restart carries the same id and the same body.

    python3 verify_webhook.py            # checks the test vector below
"""

import hashlib
import hmac


def verify(secret: bytes, body: bytes, signature_header: str) -> bool:
    """True when `signature_header` is the signature of exactly these body bytes."""
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature_header)


def handle(headers: dict, body: bytes, secret: bytes, seen: set) -> int:
    """What a receiver answers: 401 for a bad signature, 200 (and no work) for a delivery id seen before."""
    if not verify(secret, body, headers.get("Meterd-Signature", "")):
        return 401
    delivery = headers.get("Meterd-Delivery", "")
    if delivery in seen:
        return 200
    seen.add(delivery)
    # ... act on json.loads(body): tenant_id, rule_id, meter_id, customer_id, threshold, usage, period_start, ...
    return 200


if __name__ == "__main__":
    # The same vector is checked by meterd's Swift tests (WebhookDispatcherTests).
    body = b'{"delivery_id":"ntf_1","number":1}'
    signature = "sha256=1688bc3ae3634945cc1a1dc137011d4b6fa8d868299599dec4938313363d15ee"
    assert verify(b"s3cret", body, signature)
    assert not verify(b"s3cret", body + b" ", signature)
    seen: set = set()
    headers = {"Meterd-Signature": signature, "Meterd-Delivery": "ntf_1"}
    assert handle(headers, body, b"s3cret", seen) == 200 and seen == {"ntf_1"}
    assert handle(headers, body, b"other", seen) == 401
    print("ok")
