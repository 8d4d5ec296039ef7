"""Many rules on one argument are matched with one RE2 set: it must decide exactly as one-by-one."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from policy_factories import make_policy

import mcpwrap._policy.batch as batch_module
from mcpwrap._policy.engine import Call

GLOBS = st.sampled_from(["/etc/*", "*.pem", "*rm -rf*", "/tmp/*", "*/.ssh/*", "a?c", "*", "x*y*z", "DROP*"])
VALUES = st.sampled_from(["/etc/passwd", "/tmp/a.pem", "rm -rf /", "/tmp/ok", "~/.ssh/id_rsa", "abc", "xAyBz", "drop table", "", "/TMP/x"])
RULES = st.lists(
    st.tuples(st.sampled_from(["allow", "deny", "approve"]), st.sampled_from(["path", "cmd", "*"]), st.lists(GLOBS, min_size=1, max_size=3), st.booleans()),
    min_size=8, max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(RULES, st.dictionaries(st.sampled_from(["path", "cmd"]), st.one_of(VALUES, st.lists(VALUES, max_size=3)), max_size=2))
def test_batched_matching_agrees_with_one_by_one(rules, args):
    doc = {
        "rules": [
            {
                "name": f"r{i}",
                "action": action,
                "match": {
                    "tools": ["t"],
                    ("argument_patterns" if regex else "arguments"): {key: [g.replace("*", ".*").replace("?", ".") if regex else g for g in globs]},
                },
            }
            for i, (action, key, globs, regex) in enumerate(rules)
        ]
    }
    call = Call("tools/call", "t", args)
    saved = batch_module.BATCH_MIN_CONDITIONS
    try:
        batch_module.BATCH_MIN_CONDITIONS = 10**9  # no RE2 set: one condition at a time
        single = make_policy(doc).view("s", "u").decide(call)
        # 1: every condition in a set (the hit-driven fast path); 4: some in sets, some not (the mixed walk)
        for threshold in (1, 4):
            batch_module.BATCH_MIN_CONDITIONS = threshold
            view = make_policy(doc).view("s", "u")
            batched = view.decide(call)
            assert (batched.action, batched.rule_name) == (single.action, single.rule_name), threshold
            if threshold == 1:  # the sets were really used
                assert view.candidates("c2s", "tools/call", "t", None).batches
    finally:
        batch_module.BATCH_MIN_CONDITIONS = saved
