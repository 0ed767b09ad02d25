import base64
import hashlib
import hmac
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

import gateway
from gateway.webhooks.signing import new_secret, sign

BODY = '{"type":"video.completed","data":{"id":"vid_1","title":"Café"}}'.encode()


def test_signature_verifies_with_the_reference_library() -> None:
    secret = new_secret()
    headers = sign(secret, "msg_1", int(time.time()), BODY)
    assert Webhook(secret).verify(BODY, headers)["data"]["title"] == "Café"


def test_tampered_body_fails() -> None:
    secret = new_secret()
    headers = sign(secret, "msg_1", int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"vid_1", b"vid_2"), headers)


def test_other_secret_fails() -> None:
    headers = sign(new_secret(), "msg_1", int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


def test_signature_is_hmac_of_id_timestamp_body() -> None:
    secret = new_secret()
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = hmac.new(key, b"msg_1.1700000000." + BODY, hashlib.sha256).digest()
    headers = sign(secret, "msg_1", 1_700_000_000, BODY)
    assert headers["webhook-signature"] == "v1," + base64.b64encode(expected).decode()
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == "1700000000"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == f"nemo-gateway-webhooks/{gateway.__version__}"


def test_new_secret_shape() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret


def test_public_surface() -> None:
    import gateway.webhooks as webhooks

    # The SSRF guard moved to gateway.net (media fetches share it).
    for name in webhooks.__all__:
        assert getattr(webhooks, name).__module__.startswith(("gateway.webhooks.", "gateway.net."))
