"""The redactor reads a whole string in every encoding a reader could decode it from (base64, hex, percent)."""

from __future__ import annotations

import base64
import os

import pytest

from mcpwrap.detect.redact import redact_value

AWS_KEY = "AKIA" + "Z7QW3ERT5YUI2OPA"
GH = "ghp_" + "Zq8Xw2Lk9Pm4Rt6Vb1Nc3Hy7Ju5Gf0Ds2Ea4"


def text_item(text: str) -> dict:
    return {"content": [{"type": "text", "text": text}]}


ENCODED = {
    "base64": (lambda s: base64.b64encode(s.encode()).decode(), lambda s: base64.b64decode(s).decode()),
    "hex": (lambda s: s.encode().hex(), lambda s: bytes.fromhex(s).decode()),
    "percent": (lambda s: "".join(f"%{b:02X}" for b in s.encode()), None),
}


@pytest.mark.parametrize("encoding", list(ENCODED))
@pytest.mark.parametrize("secret, kind", [(f"aws_access_key_id={AWS_KEY}\n", "aws_access_key"), (GH, "github_token")])
def test_a_secret_in_an_encoded_string_is_redacted_and_stays_in_that_encoding(encoding, secret, kind):
    encode, decode = ENCODED[encoding]
    new, counts = redact_value(text_item(encode(secret)))
    assert counts.get(kind) == 1
    written = new["content"][0]["text"]
    assert AWS_KEY not in written and GH not in written
    if decode is not None:
        assert f"[REDACTED:{kind}]" in decode(written)


def test_base64_data_that_is_text_is_read_whatever_the_item_type():
    value = {"content": [{"type": "audio", "mimeType": "text/plain", "data": base64.b64encode(GH.encode()).decode()}]}
    new, counts = redact_value(value)
    assert counts == {"github_token": 1} and GH not in base64.b64decode(new["content"][0]["data"]).decode()


def test_a_private_key_with_lower_case_armour_is_redacted():
    body = base64.b64encode(os.urandom(300)).decode()
    new, counts = redact_value(text_item(f"-----begin rsa private key-----\n{body}\n-----end rsa private key-----"))
    assert counts == {"private_key": 1} and body[:40] not in new["content"][0]["text"]


@pytest.mark.parametrize("text", ["0123456789abcdef0123456789abcdef", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                                  "https://example.org/a%20b?q=1%2B2", base64.b64encode(os.urandom(64)).decode(), "50% off, 20%-30% more"])
def test_hashes_urls_and_binary_base64_are_left_alone(text):
    new, counts = redact_value(text_item(text))
    assert counts == {} and new == text_item(text)
