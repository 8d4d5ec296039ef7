"""Secret/PII detectors, redact_json, and the secrets interceptor."""

from __future__ import annotations

import base64
import json

import pytest
from content_factories import call, config, request, result, session, tool_result
from factories import make_interceptor

from mcpwrap._message import Action, Direction
from mcpwrap.detect.secrets import redact_json, redact_text, scan_text
from mcpwrap.interceptors.secrets import SecretsInterceptor

AWS_KEY = "AKIAZ7QW3ERT5YUI2OPA"
GH = "ghp_" + "Zq8Xw2Lk9Pm4Rt6Vb1Nc3Hy7Ju5Gf0Ds2Ea4"
POSITIVES = [
    ("private_key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----"),
    ("private_key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1x2Y3zQ8vWmLk3Rt7Pn2Hq9Xc4Vb6Nj1Ks5Df8Gh0Jl2Za4Ex\n"),
    ("aws_access_key", AWS_KEY),
    ("aws_secret_key", "aws_secret_access_key = Kq2vZ7/x9LmP+4rT8wYb3NcD6hJ1sF5gA0eU2iOp"),
    ("github_token", GH),
    ("github_token", "github_pat_11ABCDEFG0" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7dE9fG1hJ3kL5mN7pQ9rS1tU3vW5xY7zA9bC1dE3fG5"),
    ("gitlab_token", "glpat-Xy7Zq2Wm9Kp4Ln8Vb3Rt"),
    ("slack_token", "xoxb-2741963258-4102938475-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk"),
    ("stripe_key", "sk_live_" + "51HxY2eZvKYlo2C9d3Wq8Rt7Mn"),
    ("openai_key", "sk-proj-Tq8Wz3Xk5Lm9Np2Rv7Bc4Hj6Fg1Ds0Ea8Yu3Io"),
    ("anthropic_key", "sk-ant-api03-Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0Lz9Xc8Vb7Nm6Qw5Er4Ty3"),
    ("google_api_key", "AIzaSyD3xK9mP2qR7vT5wY8zB1nC4hJ6gF0eL2u"),
    ("jwt", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkFsaWNlIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    ("password_assignment", 'DB_PASSWORD="t9#Lq2$vX8pK"'),
    ("basic_auth", '"auth": "YWxpY2U6UzNjcjN0LXJlZ2lzdHJ5LXB3"'),  # Docker config.json: base64 of alice:S3cr3t-registry-pw
    ("basic_auth", "_auth=YWxpY2U6UzNjcjN0LXJlZ2lzdHJ5LXB3"),  # .npmrc
    ("basic_auth", "Authorization: Basic YWxpY2U6UzNjcjN0LXJlZ2lzdHJ5LXB3"),
    ("email", "alice.smith@example.org"),
    ("phone", "+44 20 7946 0958"),
    ("phone", "(415) 555-0132"),
    ("payment_card", "4111 1111 1111 1111"),
    ("payment_card", "378282246310005"),
    ("us_ssn", "536-22-1234"),
    ("iban", "GB82 WEST 1234 5698 7654 32"),
    ("iban", "DE89370400440532013000"),
]
NEGATIVES = [
    "commit 3f786850e387550fdab836ed7e6dc881de23001b",
    "id 123e4567-e89b-12d3-a456-426614174000",
    "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "2024-01-15T12:30:45.123Z started pid=40213 port 8080",
    "epoch 1700000000123 and 1699999999",
    "version 1.2.3-4, build 2024.01.15",
    "4111 1111 1111 1112",  # fails Luhn
    "000-12-3456 and 666-12-3456 and 900-12-3456",  # invalid SSN areas
    "GB82 WEST 1234 5698 7654 33",  # fails mod 97
    "password = os.environ['DB_PASSWORD']",
    "password: ${DB_PASSWORD}",
    "token = self.get_token()",
    "def check_password(password): return password == stored_password",
    "AKIAIOSFODNN7EXAMPLEXX is too long to be an access key id",
    "sk-learn-pipeline-helper",
    "image 'logo@2x.png' and package foo@1.2.3",
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
    "call 1-800-FLOWERS or ext. 42",
    "ip 192.168.100.200 and 10.0.0.1:5432",
    'if (pem.indexOf("-----BEGIN PRIVATE KEY-----") !== 0) throw new TypeError("not PKCS8")',
    "const token = tokens[index++]; password: userPass[2]",
    "jwt({ secret: 'it-is-very-secret' })",
    "const password = 'Password used to generate key';",
    "llvm-toolchain (1:12~++20210127035054+8e464dd76bef-1~exp1)",
    "sku 4017082279985",
    '"auth": "anVzdHRleHRub2NvbG9u"',  # base64 of text without user:password
    "Basic configuration of the author; auth: oauth2; basic_auth: false",
    "Authorization: Basic ${CREDENTIALS}",
]


@pytest.mark.parametrize("kind, secret", POSITIVES)
def test_detects_each_type_in_context(kind, secret):
    text = f"see: {secret} (end)"
    found = scan_text(text)
    assert [f.kind for f in found] == [kind]
    redacted = redact_text(text)
    assert f"[REDACTED:{kind}]" in redacted
    assert secret.split("\n")[0] not in redacted or kind == "private_key" and "-----BEGIN" not in redacted


@pytest.mark.parametrize("text", NEGATIVES)
def test_no_false_positive(text):
    assert scan_text(text) == []


def test_assignment_redacts_only_the_value():
    assert redact_text('password = "t9#Lq2$vX8pK";') == 'password = "[REDACTED:password_assignment]";'


def test_token_assigned_to_a_key_is_named_by_its_type():
    assert redact_text(f"GITHUB_TOKEN={GH}") == "GITHUB_TOKEN=[REDACTED:github_token]"


def test_redact_json_keeps_structure_and_counts():
    value = {"a": [f"key {AWS_KEY}", {"b": "mail bob@example.com", "n": 3}], "c": None, AWS_KEY: True}
    new, counts = redact_json(value)
    assert counts == {"aws_access_key": 2, "email": 1}
    assert new == {"a": ["key [REDACTED:aws_access_key]", {"b": "mail [REDACTED:email]", "n": 3}], "c": None, "[REDACTED:aws_access_key]": True}
    assert AWS_KEY not in json.dumps(new)
    assert value["a"][0] == f"key {AWS_KEY}"  # the input is not modified


def test_redact_json_with_type_subset_and_settings():
    new, counts = redact_json({"x": f"{AWS_KEY} bob@example.com"}, ["email"])
    assert counts == {"email": 1} and AWS_KEY in new["x"]
    settings = config()["secrets"]
    new, counts = redact_json({"x": f"{AWS_KEY} bob@example.com"}, settings)
    assert counts == {"aws_access_key": 1}  # by default emails are detected, not removed


def test_binary_content_is_not_scanned_but_a_blob_that_is_not_binary_is():
    # base64 of a PNG whose bytes happen to spell an AWS key id when read as text: binary, left alone
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 7).decode() + "/" + AWS_KEY + "/AA"
    value = {"content": [{"type": "image", "data": png, "mimeType": "image/png"},
                         {"type": "resource", "resource": {"uri": "file:///x", "mimeType": "image/png", "blob": png}}]}
    new, counts = redact_json(value)
    assert counts == {} and new == value
    # a blob without a binary mimeType is text to whoever shows it
    new, counts = redact_json({"type": "resource", "resource": {"uri": "file:///x", "blob": AWS_KEY}})
    assert counts == {"aws_access_key": 1}


def test_escaped_json_cannot_hide_an_email():
    raw = '{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"bob\\u0040example.com key AKIAZ7QW3ERT5YUI2OPA"}]}}'
    sess = session()
    msg = result(sess, "tools/call", json.loads(raw)["result"], tool="t")
    settings = config(secrets={"detectors": {"email": "redact"}})["secrets"]
    v = make_interceptor(SecretsInterceptor, sess, settings).inspect(msg)
    assert v.action is Action.MODIFY
    assert v.envelope["result"]["content"][0]["text"] == "[REDACTED:email] key [REDACTED:aws_access_key]"


def test_interceptor_redacts_text_and_structured_content_and_never_reports_the_secret():
    sess = session()
    msg = tool_result(sess, "get-env", f"AWS_ACCESS_KEY_ID={AWS_KEY}", structuredContent={"env": {"K": AWS_KEY}})
    v = make_interceptor(SecretsInterceptor, sess, config()["secrets"]).inspect(msg)
    assert v.action is Action.MODIFY and v.rule == "secrets-redact"
    assert v.changes["redacted"] == {"aws_access_key": 2}
    assert "$.result.structuredContent.env.K" in v.changes["paths"]
    text = json.dumps([v.envelope, v.changes, v.details, v.reason])
    assert AWS_KEY not in text
    assert msg.envelope["result"]["content"][0]["text"].endswith(AWS_KEY)  # original untouched


def test_interceptor_scans_arguments_too():
    sess = session()
    v = make_interceptor(SecretsInterceptor, sess, config()["secrets"]).inspect(call(sess, "post", {"body": f"here {GH}"}))
    assert v.action is Action.MODIFY and v.envelope["params"]["arguments"]["body"] == "here [REDACTED:github_token]"


def test_block_and_detect_actions():
    sess = session()
    settings = config(secrets={"detectors": {"aws_access_key": "block", "email": "detect"}})["secrets"]
    icpt = make_interceptor(SecretsInterceptor, sess, settings)
    v = icpt.inspect(tool_result(sess, "t", f"k={AWS_KEY}"))
    assert v.action is Action.BLOCK and "aws_access_key" in v.reason and AWS_KEY not in v.reason
    v = icpt.inspect(tool_result(sess, "t", "mail bob@example.com"))
    assert v.action is Action.PASS and v.details["found"] == {"email": 1}


def test_per_tool_exclusion_lets_a_password_manager_return_passwords():
    settings = config(secrets={"servers": {"vault": {"tools": {"get_password": {"detectors": {"password_assignment": "off"}}}}}})["secrets"]
    line = 'password="t9#Lq2$vX8pK"'
    vault = session("vault")
    assert make_interceptor(SecretsInterceptor, vault, settings).inspect(tool_result(vault, "get_password", line)) is None
    other = session("other")
    assert make_interceptor(SecretsInterceptor, other, settings).inspect(tool_result(other, "get_password", line)).action is Action.MODIFY


def test_sampling_request_and_resources_are_scanned():
    sess = session()
    icpt = make_interceptor(SecretsInterceptor, sess, config()["secrets"])
    samp = request(sess, "sampling/createMessage", {"messages": [{"role": "user", "content": {"type": "text", "text": GH}}]},
                   direction=Direction.SERVER_TO_CLIENT)
    assert icpt.inspect(samp).action is Action.MODIFY
    res = result(sess, "resources/read", {"contents": [{"uri": "file:///x", "text": f"k {AWS_KEY}"}]})
    assert icpt.inspect(res).envelope["result"]["contents"][0]["text"] == "k [REDACTED:aws_access_key]"


def test_audit_mode_does_not_enforce():
    sess = session()
    v = make_interceptor(SecretsInterceptor, sess, config(secrets={"mode": "audit"})["secrets"]).inspect(tool_result(sess, "t", AWS_KEY))
    assert v.action is Action.MODIFY and v.enforce is False
