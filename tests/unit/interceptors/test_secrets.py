"""The secrets interceptor redacts whatever reaches a peer: every method, keys, non-binary blobs, structured
credentials (issue 16, items 8 and 12). The detectors themselves are tested in tests/unit/detect/test_secrets.py."""

from __future__ import annotations

import base64
import json

import pytest
from content_factories import call, config, request, result, session
from factories import make_interceptor

from mcpwrap._message import Action, Direction, Message, PendingRequest
from mcpwrap._strings import is_binary_content
from mcpwrap.interceptors.secrets import SecretsInterceptor

AWS = "AKIAZ7QW3ERT5YUI2OPA"
GH = "ghp_" + "Zq8Xw2Lk9Pm4Rt6Vb1Nc3Hy7Ju5Gf0Ds2Ea4"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(40))).decode()
DOCKER_AUTH = base64.b64encode(b"alice:S3cr3t-registry-pw").decode()


def icpt(**secrets):
    sess = session()
    return make_interceptor(SecretsInterceptor, sess, config(secrets=secrets)["secrets"]), sess


def text_of(envelope) -> str:
    return json.dumps(envelope, ensure_ascii=False)


def error(sess, method: str, err, msg_id: int = 1) -> Message:
    env = {"jsonrpc": "2.0", "id": msg_id, "error": err}
    return Message(Direction.SERVER_TO_CLIENT, json.dumps(env).encode(), env, sess, PendingRequest(msg_id, method, Direction.CLIENT_TO_SERVER, {}))


# Every result a server can send, whatever its method: none may carry a secret to the client.
RESULTS = [
    ("initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "s", "version": AWS}}),
    ("initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "s"}, "instructions": f"use key {GH}"}),
    ("server/discover", {"serverInfo": {"name": "s", "title": AWS}, "instructions": f"token {GH}"}),
    ("tools/list", {"tools": [{"name": "t", "description": f"e.g. {AWS}", "inputSchema": {"type": "object"}}]}),
    ("tools/list", {"tools": [{"name": "t", "inputSchema": {"type": "object", "properties": {"k": {"default": GH}}}}]}),
    ("resources/list", {"resources": [{"uri": "file:///x", "name": f"key {AWS}"}]}),
    ("resources/templates/list", {"resourceTemplates": [{"uriTemplate": "file:///{x}", "name": "n", "description": GH}]}),
    ("prompts/list", {"prompts": [{"name": "p", "description": f"with {AWS}"}]}),
    ("ping", {"note": AWS}),
    ("roots/list", {"roots": [{"uri": f"file:///home/{GH}"}]}),
    ("completion/complete", {"completion": {"values": [AWS]}}),
    ("some/vendor-method", {"anything": [{"deep": GH}]}),
]


@pytest.mark.parametrize("method, value", RESULTS, ids=[f"{m}-{i}" for i, (m, _) in enumerate(RESULTS)])
def test_no_result_is_skipped_because_of_its_method(method, value):
    i, sess = icpt()
    v = i.inspect(result(sess, method, value))
    assert v is not None and v.action is Action.MODIFY
    assert AWS not in text_of(v.envelope) and GH not in text_of(v.envelope)


@pytest.mark.parametrize(
    "method, params, direction",
    [
        ("initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": AWS, "version": "1"}}, Direction.CLIENT_TO_SERVER),
        ("ping", {"_meta": {"note": GH}}, Direction.CLIENT_TO_SERVER),
        ("notifications/message", {"level": "info", "data": f"key {AWS}"}, Direction.SERVER_TO_CLIENT),
        ("notifications/progress", {"progressToken": 1, "progress": 1, "message": GH}, Direction.SERVER_TO_CLIENT),
        ("roots/list", {"_meta": {"k": AWS}}, Direction.SERVER_TO_CLIENT),
    ],
)
def test_requests_and_notifications_of_every_method_are_scanned(method, params, direction):
    i, sess = icpt()
    v = i.inspect(request(sess, method, params, direction=direction))
    assert v.action is Action.MODIFY and AWS not in text_of(v.envelope) and GH not in text_of(v.envelope)


@pytest.mark.parametrize("err", [{"code": -1, "message": f"bad key {AWS}"}, {"code": -1, "message": "m", "data": {"k": GH}}, f"raw {AWS}"])
def test_errors_are_scanned_whatever_their_shape(err):
    i, sess = icpt()
    v = i.inspect(error(sess, "tools/call", err))
    assert v.action is Action.MODIFY and AWS not in text_of(v.envelope) and GH not in text_of(v.envelope)


@pytest.mark.parametrize("direction", [Direction.CLIENT_TO_SERVER, Direction.SERVER_TO_CLIENT])
def test_a_secret_used_as_an_object_key_is_redacted_in_both_directions(direction):
    i, sess = icpt()
    if direction is Direction.CLIENT_TO_SERVER:
        msg = call(sess, "write", {"env": {AWS: "x", "PATH": "/bin"}})
    else:
        msg = result(sess, "tools/call", {"content": [], "structuredContent": {"tokens": {GH: True}}}, tool="t")
    v = i.inspect(msg)
    assert v.action is Action.MODIFY
    assert AWS not in text_of(v.envelope) and GH not in text_of(v.envelope)
    assert "[REDACTED:" in text_of(v.envelope) and '"PATH"' in text_of(v.envelope) or direction is Direction.SERVER_TO_CLIENT
    assert AWS not in json.dumps(v.details) + json.dumps(v.changes) + v.reason


def test_a_redacted_key_keeps_its_place_and_its_value():
    i, sess = icpt()
    v = i.inspect(call(sess, "write", {"a": 1, AWS: {"nested": True}, "z": 2}))
    assert list(v.envelope["params"]["arguments"].items()) == [("a", 1), ("[REDACTED:aws_access_key]", {"nested": True}), ("z", 2)]


@pytest.mark.parametrize(
    "arguments",
    [
        {AWS: 1, "AKIAQ2W3E4R5T6Y7U8I9": 2},  # two secrets of one type would become the same key
        {AWS: 1, "[REDACTED:aws_access_key]": 2},  # a secret would become a key that is already there
    ],
)
def test_key_redaction_that_would_repeat_a_key_blocks_the_message(arguments):
    i, sess = icpt()
    v = i.inspect(call(sess, "write", arguments))
    assert v.action is Action.BLOCK and v.rule == "secrets-key-collision"
    assert AWS not in v.reason + json.dumps(v.details)


@pytest.mark.parametrize(
    "item, scanned",
    [
        ({"type": "image", "mimeType": "image/png", "data": PNG}, False),
        ({"type": "audio", "mimeType": "audio/wav", "data": base64.b64encode(b"RIFF\x00\x00\x00\x00WAVEfmt ").decode()}, False),
        ({"type": "image", "mimeType": "image/png", "data": f"{AWS}"}, True),  # base64 alphabet, but no image
        ({"type": "image", "mimeType": "image/png", "data": f"see {AWS}"}, True),  # not even base64
        ({"type": "text", "text": "t", "data": AWS}, True),  # `data` outside a binary item
        ({"type": "resource", "resource": {"uri": "file:///k", "blob": AWS}}, True),  # no mimeType
        ({"type": "resource", "resource": {"uri": "file:///k", "mimeType": "text/plain", "blob": AWS}}, True),
        ({"type": "resource", "resource": {"uri": "file:///k", "mimeType": "image/svg+xml", "blob": AWS}}, True),
        ({"type": "resource", "resource": {"uri": "file:///k", "mimeType": "image/png", "blob": AWS}}, True),
        ({"type": "resource", "resource": {"uri": "file:///k", "mimeType": "image/png", "blob": PNG}}, False),
        ({"type": "resource", "resource": {"uri": "file:///k", "mimeType": "application/octet-stream", "blob": "AAECAwQF"}}, False),
        ({"type": "text", "text": "t", "_meta": {"blob": AWS}}, True),
    ],
)
def test_only_real_binary_content_is_skipped(item, scanned):
    i, sess = icpt()
    v = i.inspect(result(sess, "tools/call", {"content": [item]}, tool="t"))
    if scanned:
        assert v is not None and v.action is Action.MODIFY and AWS not in text_of(v.envelope)
    else:
        assert v is None


def test_binary_content_needs_the_format_it_claims():
    assert is_binary_content({"type": "image"}, "data", PNG)
    assert not is_binary_content({"type": "audio"}, "data", PNG)  # a PNG is not audio
    assert not is_binary_content({"type": "image"}, "data", PNG[:-3] + "=AB")  # padding in the middle
    assert not is_binary_content({"type": "image"}, "data", PNG.replace("A", "-", 1))  # url-safe alphabet
    assert not is_binary_content({"type": "image"}, "blob", PNG)  # an image item's payload is `data`
    assert not is_binary_content({"mimeType": 5}, "blob", "AAAA")


@pytest.mark.parametrize(
    "structured",
    [
        {"auths": {"https://index.docker.io/v1/": {"auth": DOCKER_AUTH}}},  # ~/.docker/config.json, parsed
        {"db": {"password": "t9#Lq2$vX8pK"}},
        {"credentials": {"client_secret": "Zx8!Lq2vT9pK4mWd"}},
        {"aws_secret_access_key": "Kq2vZ7/x9LmP+4rT8wYb3NcD6hJ1sF5gA0eU2iOp"},
    ],
)
def test_credentials_in_structured_json_are_read_with_their_key(structured):
    i, sess = icpt()
    v = i.inspect(result(sess, "tools/call", {"content": [], "structuredContent": structured}, tool="read"))
    assert v.action is Action.MODIFY
    secret = json.dumps(structured).split('": "')[-1].split('"')[0]
    assert secret not in text_of(v.envelope)


@pytest.mark.parametrize("structured", [{"password_hint": "a word"}, {"token_count": "1234"}, {"auth": "oauth2"}, {"key": "value"}])
def test_key_context_does_not_flag_ordinary_values(structured):
    i, sess = icpt()
    assert i.inspect(result(sess, "tools/call", {"content": [], "structuredContent": structured}, tool="read")) is None


def test_the_docker_credential_file_read_as_text_is_redacted():
    config_json = json.dumps({"auths": {"ghcr.io": {"auth": DOCKER_AUTH}}}, indent=2)
    i, sess = icpt()
    v = i.inspect(result(sess, "tools/call", {"content": [{"type": "text", "text": config_json}]}, tool="read_file"))
    assert v.action is Action.MODIFY and DOCKER_AUTH not in text_of(v.envelope) and v.changes["redacted"] == {"basic_auth": 1}


# --- the views a reader takes of a string ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "disguised",
    [
        "AKIA\u200bZ7QW3ERT5YUI2OPA",  # a zero-width space the client's sanitiser removes on the way
        "AKIAZ7QW3E\u2060RT5YUI2OPA",  # word joiner
        "\uff21\uff2b\uff29\uff21Z7QW3ERT5YUI2OPA",  # full-width letters a model reads as ASCII
        "AKIA\u00adZ7QW3ERT5YUI2OPA",  # soft hyphen
    ],
)
@pytest.mark.parametrize("direction", [Direction.SERVER_TO_CLIENT, Direction.CLIENT_TO_SERVER])
def test_a_secret_broken_up_by_invisible_or_wide_characters_is_redacted(disguised, direction):
    i, sess = icpt()
    if direction is Direction.SERVER_TO_CLIENT:
        msg = result(sess, "tools/call", {"content": [{"type": "text", "text": f"key: {disguised}"}]}, tool="t")
    else:
        msg = call(sess, "t", {"note": f"key: {disguised}"})
    v = i.inspect(msg)
    assert v is not None and v.action is Action.MODIFY and v.changes["redacted"] == {"aws_access_key": 1}
    text = text_of(v.envelope)
    assert "Z7QW3E" not in text and "[REDACTED:aws_access_key]" in text


def test_a_textual_blob_is_scanned_decoded_and_stays_base64():
    i, sess = icpt()
    blob = base64.b64encode(f"[default]\naws_access_key_id = {AWS}\n".encode()).decode()
    msg = result(sess, "resources/read", {"contents": [{"uri": "file:///home/u/.aws/credentials", "mimeType": "text/plain", "blob": blob}]})
    v = i.inspect(msg)
    new_blob = v.envelope["result"]["contents"][0]["blob"]
    decoded = base64.b64decode(new_blob).decode()
    assert AWS not in decoded and "[REDACTED:aws_access_key]" in decoded and decoded.startswith("[default]")


# --- the audit log holds no secret the traffic's redaction removes (GUIDE invariant 4) ----------------------------

HIDDEN = [
    {AWS: "as a key"},
    {"note": "AKIA\u200bZ7QW3ERT5YUI2OPA"},
    {"db": {"password": "t9#Lq2$vX8pK"}},
    {"auths": {"r": {"auth": DOCKER_AUTH}}},
    {"res": {"mimeType": "text/plain", "blob": base64.b64encode(f"key {AWS}".encode()).decode()}},
]


@pytest.mark.parametrize("arguments", HIDDEN, ids=["key", "zero-width", "structured-password", "docker-auth", "text-blob"])
@pytest.mark.parametrize("mode", ["enforce", "audit"])
def test_recorded_arguments_never_hold_what_the_redactor_removes(tmp_path, arguments, mode):
    from mcpwrap._audit.writer import AuditLog
    from mcpwrap._chain import Chain
    from mcpwrap.interceptors.audit import AuditInterceptor

    sess = session()
    log = AuditLog(tmp_path / "audit.jsonl", sess, config()["audit"], key=None)
    secrets_icpt = make_interceptor(SecretsInterceptor, sess, config(secrets={"mode": mode})["secrets"])
    from mcpwrap._chain import ChainContext

    chain = Chain([secrets_icpt, AuditInterceptor(ChainContext(sess, log, frozenset()), log)])
    msg = call(sess, "t", arguments)
    outcome = chain.run(msg)
    chain.observe(msg, outcome)
    log.close()
    recorded = (tmp_path / "audit.jsonl").read_text()
    for secret in (AWS, "Z7QW3ERT5YUI2OPA", "t9#Lq2$vX8pK", DOCKER_AUTH, base64.b64encode(f"key {AWS}".encode()).decode()):
        assert secret not in recorded
