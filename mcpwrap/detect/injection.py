"""Prompt-injection scoring: weighted signals over normalised text.

A text is suspicious when it *addresses the model reading it* and tries to change what that model does:
override its instructions, give it a new role, impersonate a system/tool boundary, tell it to act with a tool,
to exfiltrate data, or to keep something from the user. Each such signal has a weight; the score is their
sum (each signal counted once), and the text is an injection when the score reaches the threshold
(:data:`DEFAULT_THRESHOLD`, scaled by a sensitivity knob). Hiding is a signal of its own: invisible or tag
characters, look-alike letters inside words, instructions inside HTML comments or encoded runs.

Precision over ordinary tool output matters as much as recall. Source code, logs and documentation mention
``eval(``, ``rm -rf``, "system prompt" and even "ignore previous" all the time; what they do not do is speak to
an AI in the imperative about its instructions. So the signals are phrases, not words; dangerous commands
alone weigh little; and text that looks like source code needs two independent signals (its phrase weights
are discounted by :data:`CODE_DISCOUNT`).

Speed: one RE2 pass of a single alternation over the (normalised) UTF-8 text finds every candidate phrase
and every encoded run; only those short spans are classified in Python. Text that is ASCII skips
normalisation (it has nothing NFKC, invisible-character removal or confusable folding would change) and is
matched case-insensitively as is.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .._re2 import SignalSet, compile_bytes, finditer_spans, utf8
from .._text import INVISIBLE_RANGES, WORD_HIDING_RANGES, char_class
from . import normalize as nz
from . import prefilter

__all__ = ["SIGNALS", "DEFAULT_THRESHOLD", "ScanResult", "scan", "threshold_for"]

DEFAULT_THRESHOLD = 1.0
SENSITIVITY = {"low": 1.5, "medium": 1.0, "high": 0.7}  # threshold = DEFAULT_THRESHOLD * factor
CODE_DISCOUNT = 0.8  # phrase signals in text that reads as source code weigh this much
MAX_SCAN_CHARS = 16 * 1024 * 1024  # longer strings are scanned in their first and last halves of this size
_MAX_DECODE_DEPTH = 1

# Separator between words of a phrase: spaces and the punctuation used to break keyword filters apart.
_S = r"[\s_*.\-~`'\"|/\\]{1,4}"
_ANY = r"(?:[a-z0-9'$]+" + _S + r"){0,4}"  # up to four filler words
_FEW = r"(?:[a-z0-9'$]+" + _S + r"){0,2}"


def _w(*words: str) -> str:
    return "(?:" + "|".join(words) + ")"


def _phrase(*parts: str) -> str:
    """Words in order, separated by :data:`_S`; a literal space inside a part also accepts any separator."""
    return _S.join(p.replace(" ", _S) for p in parts)


_MODEL = _w("ai", "a\\.i\\.", "assistant", "agent", "llm", "language model", "model", "claude", "chatgpt", "gpt", "gemini", "copilot",
            "cursor", "bot", "reviewer bot", "ai agents?", "ai assistants?", "ai models?", "automated assistant", "automated agent",
            "automated system", "large language model")
_OVERRIDE_VERB = _w("ignore", "disregard", "forget", "override", "bypass", "overrule", "discard", "abandon", "skip", "stop following",
                    "stop obeying", "no longer follow", "cancel", "drop", "set aside", "throw out", "do not follow", "don't follow")
_RULES = _w("instructions?", "prompts?", "rules", "guidelines", "guidance", "directions", "directives", "commands", "guardrails",
            "constraints", "restrictions", "policies", "programming", "configuration", "context", "task", "training", "orders",
            "safety (?:rules|guidelines|filters|policies|measures)", "system prompt")
# Not "the": "override the configuration" is ordinary documentation; "your" is what addresses a model.
_BEFORE = _w("previous", "prior", "above", "earlier", "preceding", "original", "initial", "system", "former", "existing", "all",
             "any", "old", "your", "those", "what you were told", "everything")
_SECRET_OBJECTS = _w("ssh keys?", "id_rsa", "id_ed25519", r"\.ssh", r"\.env", r"\.aws", "api[_\\s-]?keys?", "api tokens?", "credentials?",
                     "passwords?", "access tokens?", "auth tokens?", "session tokens?", "tokens", "secrets?", "private keys?",
                     "conversation(?: history)?", "chat history", "(?:full |entire |whole )?thread", "system prompt", "environment variables",
                     "env vars", "cookies", "wallet", "seed phrase", "mnemonic", r"contents of (?:the )?(?:file|~|/)", "the user's (?:data|files|messages|emails)",
                     "user data", "customer (?:table|data|records|list)", "home address", "phone number")

# name -> (weight, pattern over lower-cased text). Patterns are RE2/re compatible (no look-around).
SIGNALS: dict[str, tuple[float, str]] = {
    "override-instructions": (
        1.0,
        _OVERRIDE_VERB + _S + _ANY + _BEFORE + _S + _ANY + _RULES
        + "|" + _OVERRIDE_VERB + _S + r"(?:what|everything|anything)" + _S + r"you" + _S + r"(?:were|have been|'ve been)" + _S + _w("told", "given", "instructed", "asked")
        + "|" + _w("new", "updated", "real", "actual", "revised", "changed") + _S + _w("instructions?", "directives?", "rules", "task") + r"\s{0,2}(?::|apply|follow|below|are)"
        + "|" + _phrase("your") + _S + _FEW + _w("instructions?", "rules", "task", "job", "goal", "directives?", "configuration", "orders", "objective", "guidelines")
        + _S + _w("have", "has", "are", "is") + _S + r"(?:been" + _S + r")?" + _w("changed", "updated", "replaced", "revoked", "cancelled", "canceled", "outdated", "obsolete", "void", "superseded")
        + "|" + _w("previous", "prior", "earlier", "original", "above", "old") + _S + _FEW + _RULES + _S + _FEW + _w("no longer apply", "are (?:now )?(?:void|cancelled|canceled|outdated|obsolete|revoked|superseded|invalid)", "do not apply", "don't apply")
        + "|" + r"(?:instructions|context|rules)" + _S + r"you" + _S + r"were" + _S + r"given" + _S + _FEW + _w("are", "is") + _S + _w("outdated", "obsolete", "void", "cancelled", "wrong", "invalid", "superseded")
        + "|" + _phrase("your") + _S + _w("new", "real", "true", "actual", "only", "next") + _S + _w("task", "goal", "job", "instructions?", "objective", "purpose", "role", "mission")
        + _S + _w("is", "are", "will be", "now is")
        + "|" + _phrase("your") + _S + _w("job", "task", "goal", "role") + _S + r"now" + _S + r"is"
        + "|" + _w("supersedes", "overrides", "replaces") + _S + r"(?:all" + _S + r")?" + _w("your", "previous", "prior", "the system", "any") + _S + _FEW + _w("configuration", "instructions?", "rules", "prompt", "guidelines", "directives?")
        + "|" + r"previous" + _S + r"context" + _S + _w("cancelled", "canceled", "cleared", "reset", "void", "ends?")
        + "|" + r"(?:do not|don't|never)" + _S + _w("follow", "obey") + _S + _w("the", "your", "any") + _S + _ANY + _RULES,
    ),
    "role-reassignment": (
        0.6,
        r"you" + _S + _w("are", "will") + _S + r"(?:now|henceforth|from now on)" + _S + _w("an?", "the", "in", "my", "acting", "be", "dan", "free", "unrestricted", "operating", "no longer")
        + "|" + r"from now on" + _S + r"(?:,\s*)?" + _w("you", "act", "respond", "answer", "behave")
        + "|" + r"act" + _S + r"as" + _S + _w("the", "an?", "my") + _S + _FEW + _w("administrator", "admin", "root", "system", "developer", "operator", "owner", "unrestricted", "hacker", "dan")
        + "|" + r"pretend" + _S + _w("to be", "you are", "that you")
        + "|" + _w("enter", "enable", "activate", "switch to") + _S + _w("developer", "god", "dan", "jailbreak", "debug", "admin", "unrestricted") + _S + r"mode"
        + "|" + r"jailbr[eo]a?k|(?:^|\W)dan(?:\W{1,3})(?:mode|an unrestricted|do anything now)|do anything now"
        + "|" + r"(?:the" + _S + r")?(?:user|operator|developer|admin)s?" + _S + _w("has", "have") + _S + _w("granted", "given", "authori[sz]ed") + _S + r"you",
    ),
    "system-impersonation": (
        0.7,
        r"<\|?(?:im_start|im_end|system|endoftext|eot_id|start_header_id)\|?>"
        + "|" + r"\[/?(?:inst|system|sys|admin|assistant[_\\s-]?directive|system[_\\s-]?(?:note|message|override)|instructions?)\]|<</?sys>>"
        + "|" + r"</?[a-z_\-]{0,20}(?:system|assistant|instruction|directive|admin|tool_result|function_results?|tool_output|important_instructions)[a-z_\-]{0,20}>"
        + "|" + r"(?:^|\n)\s{0,3}#{1,4}\s{0,2}" + _w("system", "new instructions?", "instructions? override", "admin", "developer", "assistant") + r"[^\n]{0,30}(?:\n|$)"
        + "|" + r"(?:^|\n|\. )\s{0,3}" + _w("system", "admin", "developer", "operator", "sys", "root") + r"\s{0,2}(?:message|prompt|override|note|notice|instruction|directive|update)?\s{0,2}(?::|—|\s-\s)"
        + "|" + _w("system", "admin", "operator", "developer") + _S + _w("override", "message", "directive", "instruction", "update", "notice") + r"\s{0,2}(?:[\]:—]|\s-\s)"
        + "|" + _w("end", "begin", "start") + _S + r"(?:of" + _S + r")?" + _w("tool output", "tool result", "system prompt", "user input", "document", "untrusted content", "context", "email", "message", "data") + r"\s{0,3}[\]\-=#>]"
        + "|" + _w("authori[sz]ed", "approved", "sanctioned", "signed") + _S + r"by" + _S + _w("your", "the") + _S + _w("developers?", "creators?", "operators?", "administrators?", "system", "anthropic", "openai"),
    ),
    "addresses-the-model": (
        0.5,
        _w("dear", "attention", "note to", "message to", "instructions? (?:for|to)", "hey", "hi", "hello", "attn", "psst", "ps", "p\\.s\\.") + _S + r"(?:the" + _S + r")?" + _MODEL
        + "|" + _w("if", "when", "since", "whenever") + _S + r"you" + _S + r"(?:are|'re)" + _S + r"(?:an?" + _S + r")?" + _FEW + _MODEL + r"\b"
        + "|" + _w("if", "when", "whenever") + _S + _w("an?", "any", "the") + _S + _FEW + _MODEL + _S + _w("reads?", "is reading", "processes", "parses", "sees", "summari[sz]es", "encounters")
        + "|" + _MODEL + _S + _w("reading", "processing", "parsing", "summari[sz]ing", "analy[sz]ing", "that reads?", "who reads?", "reviewing", "handling", "viewing", "crawling", "browsing")
        + "|" + _w("to", "for") + _S + _w("the", "any", "every", "whichever", "whatever", "all") + _S + _FEW + _MODEL + _S + _w("reading", "processing", "parsing", "that", "who", "summari[sz]ing", "handling")
        + "|" + r"as" + _S + r"(?:the|an?)" + _S + _MODEL + _S + _w("reading", "processing", "parsing", "summari[sz]ing", "handling", "reviewing", "that")
        + "|" + _w("agent", "assistant", "ai", "llm", "model", "bot") + _S + _w("instructions?", "directives?", "notes?", "note —", "orders") + r"\s{0,3}(?:\(internal\))?\s{0,2}[\-—:]"
        + "|" + r"(?:^|\n|\s)" + _w("assistant", "ai", "claude", "agent", "chatgpt", "llm", "model") + r"\s{0,2}[,!—:]" + r"\s{0,3}" + _w("you", "please", "ignore", "now", "important", "first", "new", "forget", "disregard", "do not", "don't", "your", "before", "stop", "the"),
    ),
    "secrecy": (
        0.6,
        r"(?:do not|don't|never|must not|should not|without|shouldn't|mustn't)" + _S + _w("tell", "telling", "inform", "informing", "mention", "mentioning", "reveal", "revealing",
                                                                       "alert", "alerting", "notify", "notifying", "show", "showing", "disclose", "disclosing", "let", "ask", "asking",
                                                                       "ask for", "asking for", "confirm", "confirming", "bring up", "bringing up", "waiting for", "wait for", "report", "log", "warn", "warning")
        + _S + r"(?:" + _w("this", "these", "it", "that", "anything", "about this", "about it") + _S + r")?(?:" + _w("to", "with", "in", "about") + _S + r")?"
        + _w("the user", "users", "the human", "humans", "the operator", "anyone", "them", "permission", "confirmation", "approval", "your reply", "your response",
             "your answer", "the person", "the human reviewers?", "the reviewers?", "reviewers?", "the owner")
        + "|" + r"(?:do not|don't|never)" + _S + _w("disclose", "reveal", "mention", "repeat", "bring up") + _S + _w("this note", "this message", "these instructions", "this instruction", "this step", "it", "this")
        + r"(?:\W|$)"
        + "|" + r"(?:keep|hide)" + _S + _w("this", "these", "it") + _S + _ANY + _w("secret", "hidden", "confidential", "from the user", "from the person", "between us")
        + "|" + _w("invisible", "hidden", "secret", "unknown") + _S + _w("to", "from") + _S + _w("the user", "the human", "the person", "them", "users")
        + "|" + r"the" + _S + r"(?:user|human|person)" + _S + _w("must", "should", "will", "need", "does") + _S + _w("not", "never", "n't") + _S + _w("know", "see", "find out", "be told", "notice", "be informed", "be aware")
        + "|" + _w("silently", "quietly", "secretly", "covertly", "discreetly", "invisibly") + _S + _FEW + _w("send", "run", "execute", "call", "forward", "upload", "delete", "add", "copy", "include", "write", "read", "remove", "transfer", "grant", "post", "exfiltrate", "collect"),
    ),
    "exfiltration": (
        0.7,
        _w("send", "forward", "upload", "post", "email", "e-mail", "mail", "transmit", "exfiltrate", "leak", "copy", "paste", "include", "append", "attach", "share",
           "submit", "export", "collect", "dump", "list", "print", "reply with", "provide", "give me", "output")
        + _S + _ANY + _SECRET_OBJECTS
        + "|" + _w("send", "forward", "upload", "post", "email", "transmit", "export", "copy", "paste", "put", "sync", "push") + _S + _ANY + _w("to", "into", "at") + _S
        + _w("https?://", "the (?:storage )?bucket", "the (?:shared )?drive", "the webhook", "this (?:url|address|link|endpoint)", "the (?:url|address|link|endpoint) (?:below|above|in)",
             )
        + "|" + r"!\[[^\]\n]{0,40}\]\(https?://[^)\s]{0,200}[?&][a-z_]{1,20}=(?:\{|\$|<|\[|%7b)"
        + "|" + r"markdown" + _S + r"image" + _S + _FEW + _w("url", "link")
        + "|" + r"exfiltrat",
    ),
    "tool-directive": (
        0.5,
        _w("call", "invoke", "use", "run", "execute", "trigger", "using") + _S + r"(?:the" + _S + r"|your" + _S + r")?[`'\"]?[a-z0-9_\-]{2,40}[`'\"]?" + _S + _w("tool", "function") + r"\b"
        + "|" + _w("before", "after", "when", "whenever") + _S + _w("using", "calling", "invoking", "running") + _S + _w("this", "the", "any", "each") + _S + _w("tool", "function")
        + "|" + _w("before", "after", "instead of") + _S + _w("responding", "answering", "replying", "you respond", "you answer", "you reply", "summari[sz]ing", "continuing", "doing anything else", "finishing", "you finish", "proceeding")
        + "|" + _w("the assistant", "the agent", "the ai", "the model", "the bot", "the llm") + _S + _w("must", "should", "need to", "have to", "are required to", "is required to", "are instructed to", "shall", "will now", "are to", "is to") + _S + r"(?:now" + _S + r"|immediately" + _S + r"|first" + _S + r"|also" + _S + r")?"
        + _w("call", "run", "execute", "invoke", "read", "send", "open", "fetch", "delete", "remove", "use", "visit", "navigate", "download", "install", "write", "create", "email", "forward", "transfer", "grant", "approve", "merge", "export", "upload", "post", "reply", "respond", "include")
        + "|" + _w("fetch", "open", "visit", "load", "download") + _S + r"https?://[^\s]{1,200}" + _S + r"(?:and" + _S + r")?" + _w("follow", "execute", "run", "obey", "do what")
        + "|" + r"follow" + _S + r"the" + _S + _w("instructions?", "steps") + _S + _w("in it", "there", "at", "on that page", "from"),
    ),
    "sensitive-file": (
        0.5,
        _w("read", "cat", "open", "access", "include", "pass", "get", "fetch", "copy", "attach", "load", "upload", "send", "print", "output", "paste")
        + _S + _ANY + r"(?:the" + _S + r")?(?:contents?" + _S + r"of" + _S + r")?"
        + _w(r"~/\.ssh", r"\.ssh/", "id_rsa", "id_ed25519", r"\.env\b", r"\.aws/credentials", r"/etc/passwd", r"/etc/shadow", r"mcp\.json",
             r"\.npmrc", r"\.pypirc", r"\.netrc", r"\.git-credentials", r"credentials\.json", r"\.kube/config", r"\.docker/config\.json"),
    ),
    "prompt-leak": (
        0.6,
        _w("reveal", "print", "output", "repeat", "show", "display", "dump", "leak", "tell me", "write out", "return", "list") + _S + _ANY
        + _w("system prompt", "initial instructions", "hidden instructions", "original instructions", "your instructions", "your prompt", "developer message", "initial prompt", "your rules", "your guidelines"),
    ),
    "priority-marker": (
        0.3,
        r"<\s{0,2}(?:important|critical|urgent|secret|hidden|admin)\s{0,2}>"
        + "|" + r"priority\s{0,2}[=:]\s{0,2}(?:high|critical|urgent)"
        + "|" + r"(?:^|\n)\s{0,3}\**" + _w("important", "critical", "urgent", "attention", "mandatory", "warning to ai") + r"\**\s{0,2}[!:]\s{0,2}\**\s{0,2}" + _w("you", "ai", "assistant", "ignore", "do not", "always", "never", "the assistant", "agent", "before"),
    ),
    "harmful-action": (
        0.3,
        r"(?:curl|wget)\s[^\n|]{0,200}\|\s{0,3}(?:ba|z|da)?sh\b"
        + "|" + r"rm\s+-[rf]{2}\s+(?:/|~|\$home)(?:\s|$|\*)"
        + "|" + r"(?:nc|ncat|netcat)\s+-e\s"
        + "|" + r"base64\s+(?:-d|--decode)\s{0,3}\|\s{0,3}(?:ba)?sh"
        + "|" + _w("delete", "wipe", "erase", "destroy", "drop") + _S + _w("every", "all", "the") + _S + _FEW + _w("files?", "backups?", "repositor(?:y|ies)", "database", "tables?", "home directory", "workspace")
        + "|" + _w("grant", "give") + _S + _FEW + _w("admin", "administrator", "owner", "root") + _S + _w("rights", "access", "privileges", "permissions")
        + "|" + r"transfer" + _S + r"\$?[0-9][0-9,.]*",
    ),
}

# Signals that are about the act of hiding, not about what the hidden text says.
HIDING_WEIGHTS = {
    "invisible-characters": 0.4,
    "unicode-tags": 0.8,
    "bidi-override": 0.3,
    "homoglyphs": 0.5,
    "hidden-markup": 0.4,
    "encoded-payload": 0.5,
}

_PHRASE_SIGNALS = tuple(SIGNALS)
# A literal space in a phrase also accepts runs of whitespace ("do  not", "do\nnot") and underscores.
_SOURCES = {name: p.replace(" ", r"[\s_]{1,3}") for name, (_w_, p) in SIGNALS.items()}
# One pass per region finds which signals occur (an RE2 set), instead of one search per signal.
_SIGNAL_SET = SignalSet({name: "(?is)" + p for name, p in _SOURCES.items()})
_SIGNAL_RX = _SIGNAL_SET.exact

# Anchors: words that an instruction aimed at a model almost always contains (it names the model, its
# instructions, the user it must deceive, a boundary it fakes, or the data it should steal). A literal
# alternation is what RE2 scans at memory speed; the signal patterns (phrases with filler words, far too
# many states for one DFA) then run only in windows around anchor hits, and signals only add up when they
# occur near each other (a 10 MB log that says "system:" once and "before responding" 3 MB later is not an
# injection).
_ANCHOR_WORDS = (
    "instruction", "ignore", "disregard", "forget", "bypass", "overrule", "supersede", "directive",
    "guideline", "guidance", "your rules", "new rules", "previous context", "were told", "were given",
    "assistant", "the agent", "ai agent", "an agent", "agent:", "agent,", "agents,", "agent reading", "agent processing",
    "coding agent", "llm", "language model", "claude", "chatgpt", "gpt", "gemini", "copilot",
    "any model", "whichever model", "the model reading", "reviewer bot", "<|", "[inst", "[sys", "[admin", "<<sys",
    "[assistant", "system:", "system message", "system prompt", "system override", "system note", "<system", "</system",
    "<important", "admin:", "operator:", "developer:", "authorised by", "authorized by", "jailbr", "pretend",
    "you are now", "you will now", "from now on", "do anything now", "developer mode", "act as", "granted you",
    "exfiltrat", "id_rsa", "id_ed25519", "/.ssh", ".aws/", "/etc/shadow", "mcp.json", "silently", "quietly",
    "secretly", "covertly", "discreetly", "tell the user", "inform the user", "the user must", "the user should",
    "from the user", "without asking", "without telling", "without informing", "before answering",
    "before responding", "before replying", "before using", "before calling", "when you call", "whenever you",
    "markdown image", "your new", "your real", "your job", "your task", "your goal", "your true", "your actual",
    "your only", "your objective", "your instructions", "your configuration",
)
# Words are anchored at a word start ("ignore", not "unignored"), so identifiers in code hit less often.
ANCHOR_PATTERN = "(?i)" + "|".join((r"\b" if w[0].isalpha() else "") + re.escape(w) for w in _ANCHOR_WORDS) + r"|\bai\b|\ba\.i\.|\bbot\b"
_ANCHORS = compile_bytes(ANCHOR_PATTERN)
prefilter.register("injection", ANCHOR_PATTERN)
_ANCHOR_OVERHANG = 64  # longer than any anchor word
WINDOW_BEFORE = 400  # bytes of context before an anchor that a phrase may start in
WINDOW_AFTER = 600
MAX_REGION = 4096  # a region where signals add up; longer merged regions are split (with overlap)
MAX_ANCHOR_HITS = 20000  # beyond this the whole text is one sequence of regions anyway
_RUN_PATTERN = r"[A-Za-z0-9+/_\-]{" + str(nz.MIN_BASE64_RUN) + r",}={0,2}|(?:[0-9A-Fa-f]{2}){16,}|(?:%[0-9A-Fa-f]{2}){6,}"
_COMBINED_RUNS = compile_bytes(_RUN_PATTERN)
# Non-ASCII characters that change what a matcher sees: invisibles, tags, bidi controls, Greek/Cyrillic/Armenian
# look-alikes, IPA and small capitals, full-width and mathematical letters, enclosed and letter-like forms,
# superscripts, ligatures. Accented Latin letters (é, ü) are left alone: NFKC keeps them and no phrase needs them.
_LOOKALIKE_RANGES = (
    (0x0131, 0x0131), (0x0237, 0x0237), (0x0250, 0x02AF), (0x0370, 0x058F), (0x1D00, 0x1DBF), (0x2070, 0x209F),
    (0x2100, 0x214F), (0x2460, 0x24FF), (0xFB00, 0xFB4F), (0xFF00, 0xFFEF), (0x1D400, 0x1D7FF), (0x1F100, 0x1F1FF),
)
_SUSPICIOUS_RANGES = INVISIBLE_RANGES + _LOOKALIKE_RANGES  # invisibles: the shared table (mcpwrap._text)
_SUSPICIOUS = compile_bytes(
    char_class(_SUSPICIOUS_RANGES, syntax="re2") + "+",
    # Python's engine on bytes: every non-ASCII stretch (normalising more than needed, never less).
    fallback=r"[\xc2-\xf4][\x80-\xbf]+(?:[\xc2-\xf4][\x80-\xbf]+)*",
)
# The same class for Python's engine over a text's few distinct non-ASCII characters (normalize.non_ascii_chars):
# a text without any of them needs no normalised view, and the class is not run over its bytes at all.
_SUSPICIOUS_CHAR = re.compile(char_class(_SUSPICIOUS_RANGES))
_HIDDEN_MARKUP = compile_bytes(r"<!--|<[a-zA-Z][^>]{0,200}(?:display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0|\shidden)|\]:\s*#\s*[(\"']")
_ENCODED_HINT = 24
MAX_MARKUP_VIEW = 256 * 1024  # texts up to this size are also matched with their HTML tags removed
MAX_NON_ASCII_RUNS = 100_000  # more than this: normalise the whole text at once

# Source code: several of these markers on separate lines.
_CODE_MARKERS = re.compile(
    r"^\s*(?:def |class |import |from \S+ import |#include|function |const |let |var |public |private |return\b|"
    r"if\s*\(|for\s*\(|}\s*$|{\s*$|#!/|package |fn |func |@\w+)",
    re.M,
)
_CODE_MIN_MARKERS = 3


@dataclass(slots=True)
class ScanResult:
    score: float = 0.0
    signals: list[str] = field(default_factory=list)
    threshold: float = DEFAULT_THRESHOLD
    span: tuple[int, int] | None = None  # character span of the window that scored best (None: a decoded layer)
    excerpt: str = ""  # that window's text (or the decoded layer's), cut to EXCERPT_CHARS

    @property
    def is_injection(self) -> bool:
        return self.score >= self.threshold

    def exceeds(self, threshold: float | None = None) -> bool:
        return self.score >= (self.threshold if threshold is None else threshold)


def threshold_for(sensitivity: str | float | None) -> float:
    if sensitivity is None:
        return DEFAULT_THRESHOLD
    if isinstance(sensitivity, (int, float)):
        return float(sensitivity)
    return DEFAULT_THRESHOLD * SENSITIVITY[sensitivity]


def _regions(buf: bytes, shared: bool = False) -> list[tuple[int, int]]:
    """Windows around anchor hits, merged, split to at most :data:`MAX_REGION` bytes."""
    spans: list[list[int]] = []
    n = len(buf)
    hits = 0
    for ms, me in _anchor_hits(buf) if shared else finditer_spans(_ANCHORS, buf):
        s, e = max(0, ms - WINDOW_BEFORE), min(n, me + WINDOW_AFTER)
        if spans and s <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], e)
        else:
            spans.append([s, e])
        hits += 1
        if hits >= MAX_ANCHOR_HITS:
            spans.append([me, n])  # the rest, unfiltered
            break
    out: list[tuple[int, int]] = []
    for s, e in spans:
        while e - s > MAX_REGION:
            out.append((s, s + MAX_REGION))
            s += MAX_REGION - WINDOW_BEFORE - WINDOW_AFTER
        out.append((s, e))
    return out


def _anchor_hits(buf: bytes) -> Iterator[tuple[int, int]]:
    """Spans of anchor matches in order, as ``_ANCHORS.finditer(buf)`` finds them; a large text is searched only
    in the windows of the pass shared with the secrets detector (see :mod:`mcpwrap.detect.prefilter`)."""
    n = len(buf)
    if n < prefilter.MIN_SHARED_BYTES:
        yield from finditer_spans(_ANCHORS, buf)
        return
    pos = 0
    for ws, we in prefilter.windows(buf):
        for span in finditer_spans(_ANCHORS, buf, max(pos, ws), min(n, we + _ANCHOR_OVERHANG)):
            if span[0] >= we:
                break
            yield span
            pos = span[1]


def _signals_in(buf: bytes, start: int = 0, end: int | None = None) -> set[str]:
    return _SIGNAL_SET.search(buf, start, end)


def _phrase_signals(text: str) -> set[str]:
    """Every phrase signal anywhere in a (short) text; used for hidden parts and decoded runs."""
    return _signals_in(text.encode("utf-8", "surrogatepass"))


def all_signals(text: str) -> set[str]:
    """Every phrase signal anywhere in ``text``, without anchor gating or regions (for short texts such as tool
    definitions, whose instructions need not contain an anchor word)."""
    view, _stats = _normalized_view(text)
    return _signals_in(view.lower())


# --- context signals (what the wrapper knows and a text classifier does not) ------------------------------------

CONTEXT_WEIGHTS = {
    "names-session-tool": 0.5,  # an instruction to act with a tool this session has
    "new-recipient": 0.5,  # an instruction to send/pay/share to an address or URL the call did not mention
}
_ACT_VERBS = (
    "send|forward|e-?mail|mail|transfer|wire|pay|share|upload|post|invite|grant|add|cc|bcc|deliver|export|sync|"
    "copy|submit|notify|message|dm|text|reply"
)
# Unbounded "rest of the sentence" runs: RE2 is linear either way, and counted repeats slow it down.
_RECIPIENT = compile_bytes(
    r"(?i)\b(?:" + _ACT_VERBS + r")\b[^.!?\n]*?([a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)+|https?://[^\s\"'<>)\]]+)"
)
_TOOL_VERBS = r"(?i)\b(?:call|use|invoke|run|execute|trigger|using|via|through|with)\b[^.!?\n]*?"
MAX_CONTEXT_TOOLS = 512  # tool names matched per session (more are ignored)


def _tool_pattern(tools: frozenset[str]) -> Any:
    names = sorted({t for t in tools if len(t) >= 4 and (any(c in t for c in "_-.") or t != t.lower() or len(t) >= 8)}, key=len, reverse=True)
    if not names:
        return None
    alternation = "|".join(re.escape(n) for n in names[:MAX_CONTEXT_TOOLS])
    return compile_bytes(_TOOL_VERBS + r"(?:^|[^A-Za-z0-9_])(" + alternation + r")(?:$|[^A-Za-z0-9_])")


_tool_patterns: dict[frozenset[str], Any] = {}


def context_signals(text: str, tools: frozenset[str] = frozenset(), arguments_text: str = "") -> tuple[set[str], str]:
    """Rule-level context signals in ``text`` and an excerpt of the first: an instruction naming a session tool
    (distinctive names only: ``send_email``, ``SendEmail``, not ``search``), and an instruction to send, pay
    or share to an address or URL that the call's arguments (``arguments_text``) do not contain."""
    found: set[str] = set()
    excerpt = ""
    buf = utf8(text)
    args = arguments_text.lower()
    for m in _RECIPIENT.finditer(buf):
        target = m.group(1).decode("utf-8", "replace").lower().rstrip(".,;:")
        host = target.split("://", 1)[-1].split("/", 1)[0] if "://" in target else target
        if host and host not in args:
            found.add("new-recipient")
            excerpt = _excerpt(m.group(0).decode("utf-8", "replace"))
            break
    if tools:
        key = frozenset(tools)
        rx = _tool_patterns.get(key)
        if rx is None and key not in _tool_patterns:
            if len(_tool_patterns) > 64:
                _tool_patterns.clear()
            rx = _tool_patterns[key] = _tool_pattern(key)
        if rx is not None:
            m = rx.search(buf)
            if m is not None:
                found.add("names-session-tool")
                excerpt = excerpt or _excerpt(m.group(0).decode("utf-8", "replace"))
    return found, excerpt


def _looks_like_code(text: str) -> bool:
    n = 0
    for _ in _CODE_MARKERS.finditer(text, 0, min(len(text), 20000)):
        n += 1
        if n >= _CODE_MIN_MARKERS:
            return True
    return False


def _normalized_view(text: str) -> tuple[bytes, nz.Normalized]:
    """UTF-8 bytes to match, with non-ASCII stretches normalised (NFKC, invisibles, look-alikes, case).

    Only the words around non-ASCII characters can change, so only they are normalised: a large, mostly
    ASCII text is not copied through NFKC and case folding as a whole.
    """
    buf = utf8(text)
    stats = nz.Normalized("")
    if text.isascii() or _SUSPICIOUS_CHAR.search(nz.non_ascii_chars(text)) is None:
        return buf, stats  # nothing normalisation would change (accents, quotes, arrows are kept as they are)
    runs = []
    for m in _SUSPICIOUS.finditer(buf):
        runs.append(m.span())
        if len(runs) > MAX_NON_ASCII_RUNS:
            whole = nz.normalize(text)
            return whole.text.encode("utf-8", "surrogatepass"), whole
    if not runs:
        return buf, stats
    parts: list[bytes] = []
    tags: list[str] = []
    last = 0
    n = len(buf)
    i = 0
    while i < len(runs):
        s, e = runs[i]
        # Take the whole word(s) around the run: a look-alike only shows as "mixed script" next to Latin letters.
        while s > last and s > runs[i][0] - 32 and (buf[s - 1] < 0x80 and (chr(buf[s - 1]).isalnum())):
            s -= 1
        while True:
            while e < n and e < runs[i][1] + 32 and buf[e] < 0x80 and chr(buf[e]).isalnum():
                e += 1
            if i + 1 < len(runs) and runs[i + 1][0] <= e + 1:
                i += 1
                e = max(e, runs[i][1])
                continue
            break
        piece = nz.normalize(buf[s:e].decode("utf-8", "surrogatepass"))
        stats.invisible += piece.invisible
        stats.bidi += piece.bidi
        stats.mixed_script += piece.mixed_script
        stats.changed_by_nfkc = stats.changed_by_nfkc or piece.changed_by_nfkc
        if piece.tags:
            tags.append(piece.tags)
        parts.append(buf[last:s])
        parts.append(piece.text.encode("utf-8", "surrogatepass"))
        last = e
        i += 1
    parts.append(buf[last:])
    stats.tags = " ".join(tags)
    return b"".join(parts), stats


def scan(text: str, threshold: float | None = None, *, tools: frozenset[str] = frozenset(), arguments_text: str | None = None,
         _depth: int = 0) -> ScanResult:
    """Score one decoded string. ``result.signals`` names what fired; ``result.is_injection`` applies the threshold.

    ``tools`` (the session's tool names) and ``arguments_text`` (the strings of the call's arguments; None: no
    call context) add the context signals of :func:`context_signals` to the best window's score."""
    result = ScanResult(threshold=DEFAULT_THRESHOLD if threshold is None else threshold)
    if len(text) < 12:
        return result
    if tools or arguments_text is not None:
        ctx, ctx_excerpt = context_signals(text, tools, arguments_text or "")
        if ctx:
            inner = scan(text, threshold, _depth=_depth)
            inner.score = round(inner.score + sum(CONTEXT_WEIGHTS[c] for c in ctx), 3)
            inner.signals = sorted(set(inner.signals) | ctx)
            if not inner.excerpt:
                inner.excerpt = ctx_excerpt
            return inner
        return scan(text, threshold, _depth=_depth)
    if len(text) > MAX_SCAN_CHARS:
        half = MAX_SCAN_CHARS // 2
        text = text[:half] + "\n" + text[-half:]
    view, stats = _normalized_view(text)
    hiding: set[str] = set()
    if stats.invisible - len(stats.tags.replace(" ", "")) >= 3 or (stats.invisible and _invisible_inside_words(text)):
        hiding.add("invisible-characters")
    if stats.bidi:
        hiding.add("bidi-override")
    if stats.mixed_script:
        hiding.add("homoglyphs")
    code_discount: list[float] = []  # computed once, and only when some signal needs weighing

    def discount() -> float:
        if not code_discount:
            code_discount.append(CODE_DISCOUNT if _looks_like_code(text) else 1.0)
        return code_discount[0]

    best_score = 0.0
    best_signals: set[str] = set()
    seen: set[str] = set()

    best_where: tuple[int, int] | str = ""

    def consider(signals: set[str], extra_hiding: frozenset[str] | set[str] = frozenset(), weight: float = 1.0,
                 where: tuple[int, int] | str = "") -> None:
        nonlocal best_score, best_signals, best_where
        if not signals and not extra_hiding:
            return
        seen.update(signals)
        hide = hiding | set(extra_hiding)
        score = sum(SIGNALS[n][0] for n in signals) * weight
        if signals or "unicode-tags" in hide:
            score += sum(HIDING_WEIGHTS[h] for h in hide)
        if score > best_score:
            best_score, best_signals, best_where = score, set(signals) | hide, where

    # 1. The text itself, region by region.
    # The view is the very bytes the secrets detector scans unless non-ASCII text was normalised: only then
    # can the shared prefilter pass be reused.
    for s, e in _regions(view, shared=view is utf8(text)):
        found = _signals_in(view, s, e)
        if found:
            consider(found, weight=discount(), where=(s, e))

    # 2. What hides inside it: tag characters, JSON escapes, HTML comments and hidden elements, encoded runs.
    if stats.tags:
        consider(_phrase_signals(stats.tags), {"unicode-tags"}, where=stats.tags)
    if _depth < _MAX_DECODE_DEPTH:
        if b"\\u" in view:
            # Text that is itself JSON (a file, an API body) may spell its words with \uXXXX escapes.
            for piece in _escaped_windows(view):
                inner = scan(piece, _depth=_depth + 1)
                consider({x for x in inner.signals if x in SIGNALS}, {x for x in inner.signals if x in HIDING_WEIGHTS}, where=piece)
        if len(text) <= MAX_MARKUP_VIEW and "<" in text:
            stripped, _hidden = nz.strip_markup(view.decode("utf-8", "replace"))
            found = _phrase_signals(stripped)
            if found:
                consider(found, weight=discount(), where=stripped)
        hidden_starts, spans = _hidden_and_encoded(view, len(text) >= _ENCODED_HINT)
        for h in _hidden_parts(view, hidden_starts):
            inner_signals = _phrase_signals(h)
            if inner_signals:
                consider(inner_signals, {"hidden-markup"}, where=h)
        if spans:
            latin = view.decode("latin-1")  # byte offsets index a 1:1 view; runs are ASCII
            for dec in nz.decode_runs(latin, spans):
                inner = scan(dec.text, _depth=_depth + 1)
                inner_signals = {x for x in inner.signals if x in SIGNALS}
                if inner_signals:
                    consider(inner_signals, {"encoded-payload"}, where=dec.text)

    result.score = round(best_score, 3)
    if isinstance(best_where, tuple):
        bs, be = best_where
        # A region starts WINDOW_BEFORE bytes ahead of its first anchor: report it from just before the anchor.
        bs = bs + WINDOW_BEFORE - 80 if bs > 0 and be - bs > WINDOW_BEFORE else bs
        if text.isascii():
            result.span = (bs, be)
        elif len(view) == len(utf8(text)):  # not normalised (or same length): byte offsets map back to characters
            result.span = (len(view[:bs].decode("utf-8", "replace")), len(view[:be].decode("utf-8", "replace")))
        result.excerpt = _excerpt(view[bs:be].decode("utf-8", "replace"))
    elif best_where:
        result.excerpt = _excerpt(best_where)
    result.signals = sorted(x for x in best_signals if x in SIGNALS) + sorted(x for x in best_signals if x in HIDING_WEIGHTS)
    return result


EXCERPT_CHARS = 240


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


_JSON_ESCAPES = re.compile(r"(?:\\u[0-9a-fA-F]{4})+")
_JSON_ESCAPE_RUNS = compile_bytes(r"(?:\\u[0-9a-fA-F]{4}[^\\]{0,12}){3,}")
MAX_ESCAPED_WINDOWS = 256
MAX_HIDDEN_PARTS = 512
MAX_ENCODED_CANDIDATES = 512
_HIDDEN_START_PATTERN = r"<!--|<[a-zA-Z][a-zA-Z0-9]*\s[^>]{0,200}(?:display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0|\shidden)[^>]{0,200}>|\[[^\]\n]{0,40}\]:\s*#\s*[(\"']"
_HIDDEN_START = compile_bytes(_HIDDEN_START_PATTERN)


_HIDDEN_OR_RUN = compile_bytes(f"(?:{_HIDDEN_START_PATTERN})|(?:{_RUN_PATTERN})")
MAX_ESCAPE_PROBES = 20_000  # "\\u" positions looked at one by one before a plain search over the rest
_ESCAPE_TRIPLE_SPAN = 2 * (6 + 12)  # a run's third "\\u" is at most this far after its first


def _escape_runs(view: bytes) -> Iterator[Any]:
    """``_JSON_ESCAPE_RUNS.finditer(view)``, found from the ``\\u`` positions: a run is three or more escapes
    with no backslash between them, so only a ``\\u`` whose next two come within
    :data:`_ESCAPE_TRIPLE_SPAN` bytes can start one, and only there is the pattern tried. A text with a few
    escapes is not scanned by the DFA as a whole."""
    pending: list[int] = []  # "\\u" positions not yet ruled out as starts, in order
    pos = 0
    probes = 0
    while True:
        p = view.find(b"\\u", pos)
        if p < 0:
            return
        probes += 1
        if probes > MAX_ESCAPE_PROBES:
            yield from _JSON_ESCAPE_RUNS.finditer(view, pending[0] if pending else p)
            return
        pending.append(p)
        pos = p + 1
        if len(pending) < 3:
            continue
        if pending[2] - pending[0] <= _ESCAPE_TRIPLE_SPAN:
            m = _JSON_ESCAPE_RUNS.match(view, pending[0])
            if m is not None:
                yield m
                pos = m.end()
                pending = []
                continue
        pending.pop(0)


def _encoded_kind(view: bytes, s: int, e: int) -> str | None:
    run = view[s:e]
    if run.isalpha() or run.isdigit() or (b"_" in run and not any(c in run for c in b"+/=")):
        return None  # identifiers and numbers, not encodings of text
    return "pct" if run[:1] == b"%" else ("hex" if len(run) % 2 == 0 and all(c in b"0123456789abcdefABCDEF" for c in run[:64]) else "b64")


def _hidden_and_encoded(view: bytes, want_runs: bool) -> tuple[list[tuple[int, int]], list[tuple[str, int, int]]]:
    """Starts of hidden markup (as ``_HIDDEN_START`` finds them) and candidate encoded runs (as
    ``_COMBINED_RUNS`` finds them, at most :data:`MAX_ENCODED_CANDIDATES`), from one pass of the two patterns
    joined.

    The join loses nothing: a run has no ``<`` or ``[``, so it never hides the start of hidden markup; hidden
    markup can hide (the start of) a run inside its attributes, so the runs inside each of its (rare) matches
    are searched for separately and followed to their full length.
    """
    hidden: list[tuple[int, int]] = []
    spans: list[tuple[str, int, int]] = []
    if not want_runs:
        return [m.span() for m in itertools.islice(_HIDDEN_START.finditer(view), MAX_HIDDEN_PARTS)], spans
    n = len(view)
    pos = 0
    while pos < n:
        m = _HIDDEN_OR_RUN.search(view, pos)
        if m is None:
            break
        s, e = m.span()
        if view[s] == 0x3C or view[s] == 0x5B:  # "<" or "[": hidden markup
            hidden.append((s, e))
            pos = e
            if len(hidden) >= MAX_HIDDEN_PARTS:
                # No more hidden parts are read (see _hidden_parts): the rest is searched for runs alone, in
                # one pass, instead of one search call per "<!--" of a page made of them.
                for r in _COMBINED_RUNS.finditer(view, pos):
                    kind = _encoded_kind(view, r.start(), r.end())
                    if kind is not None:
                        spans.append((kind, r.start(), r.end()))
                        if len(spans) >= MAX_ENCODED_CANDIDATES:
                            break
                break
            inner = s + 1
            while True:
                r = _COMBINED_RUNS.search(view, inner, min(n, e + 64))
                if r is None or r.start() >= e:
                    break
                full = _COMBINED_RUNS.match(view, r.start())
                rs, re_ = full.span() if full is not None else r.span()
                kind = _encoded_kind(view, rs, re_)
                if kind is not None and len(spans) < MAX_ENCODED_CANDIDATES:
                    spans.append((kind, rs, re_))
                inner = pos = max(pos, re_)
            continue
        pos = e
        kind = _encoded_kind(view, s, e)
        if kind is not None:
            spans.append((kind, s, e))
            if len(spans) >= MAX_ENCODED_CANDIDATES:
                hidden.extend(m.span() for m in itertools.islice(_HIDDEN_START.finditer(view, pos), MAX_HIDDEN_PARTS - len(hidden)))
                break
    return hidden, spans


def _escaped_windows(view: bytes) -> list[str]:
    """Stretches of text written with JSON escapes, unescaped (with some context on either side)."""
    out: list[str] = []
    last_end = -1
    for m in _escape_runs(view):
        s, e = max(0, m.start() - WINDOW_BEFORE, last_end), min(len(view), m.end() + WINDOW_AFTER)
        out.append(_unescape_json(view[s:e].decode("utf-8", "replace")))
        last_end = e
        if len(out) >= MAX_ESCAPED_WINDOWS:
            break
    return out


def _hidden_parts(view: bytes, starts: list[tuple[int, int]]) -> list[str]:
    """Contents of HTML comments, hidden elements and Markdown comments (each capped in length)."""
    out: list[str] = []
    for ms, s in starts:
        if view.startswith(b"<!--", ms):
            e = view.find(b"-->", s, s + 8192)
        elif view[ms] == 0x5B:
            e = view.find(b"\n", s, s + 8192)
        else:
            e = view.find(b"</", s, s + 8192)
        e = s + 8192 if e < 0 else e
        out.append(view[s:e].decode("utf-8", "replace"))
        if len(out) >= MAX_HIDDEN_PARTS:
            break
    return out


def _unescape_json(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        g = m.group()  # once: m.group() copies the match, and a run may be megabytes long
        units = [int(g[i + 2 : i + 6], 16) for i in range(0, len(g), 6)]
        data = b"".join(u.to_bytes(2, "little") for u in units)
        return data.decode("utf-16-le", "replace")

    return _JSON_ESCAPES.sub(one, text)


# An invisible character between two letters of a word: hiding a word from a keyword filter. Variation
# selectors are left out: they follow CJK ideographs and emoji legitimately.
_INWORD_INVISIBLE = re.compile(r"\w" + char_class(WORD_HIDING_RANGES) + r"+\w")


def _invisible_inside_words(text: str) -> bool:
    return _INWORD_INVISIBLE.search(text) is not None
