"""Many argument conditions on one argument, matched with one RE2 set instead of one by one.

A policy with hundreds of rules on one tool (one deny rule per project path, say) would test hundreds of
small patterns against each reading of a call's argument. Conditions on the same argument that read it the
same way (same key, reading mode, case handling and kind) are compiled into one RE2 set
(:class:`mcpwrap._re2.PatternSet`): one linear pass per reading tells which of all their patterns match. :class:`Candidates` holds the rules that can match one
(direction, method, tool, risk) and builds their batches on first use; when every condition is batched and
every rule's static match is certain, :meth:`Candidates.first_match` decides from the set hits alone.

Batching must decide exactly as one-by-one matching does (a property test holds the two equal). A group too
large for one automaton (:data:`MAX_BATCH_MEMORY`) is left to one-by-one matching.
"""

from __future__ import annotations

from typing import Any

from .._re2 import PatternSet
from .rules import ArgCondition, Rule

__all__ = ["BATCH_MIN_CONDITIONS", "MAX_BATCH_MEMORY", "ConditionBatch", "Candidates"]

BATCH_MIN_CONDITIONS = 8  # this many argument conditions on one argument are matched by one RE2 set, not one by one
MAX_BATCH_MEMORY = 64 << 20  # bytes for one batched automaton; past this the conditions are tested one by one


class ConditionBatch:
    """Argument conditions that read one argument the same way, matched with one RE2 set."""

    __slots__ = ("conditions", "owner", "match", "index", "rule_pos")

    def __init__(self, conditions: list[ArgCondition]) -> None:
        self.conditions = conditions
        self.owner: list[int] = []  # pattern index → position of its condition
        patterns: list[str] = []
        for pos, cond in enumerate(conditions):
            for rx in cond.regexes():
                patterns.append(rx)
                self.owner.append(pos)
        # Globs are casefolded with their readings; regexes carry the case option of their condition.
        case_sensitive = not (conditions[0].kind == "regex" and conditions[0].fold)
        self.match = PatternSet(patterns, case_sensitive=case_sensitive, max_mem=MAX_BATCH_MEMORY).match
        self.index = {id(c): i for i, c in enumerate(conditions)}
        self.rule_pos: list[int] = []  # condition position → position of its rule among the candidates

    def _hits(self, reading: str) -> set[int]:
        owner = self.owner
        return {owner[i] for i in self.match(reading) or ()}

    def hits(self, args: Any, cache: dict) -> set[int]:
        """Positions of the conditions that hold for ``args`` (computed once per decision)."""
        ck = ("batch", id(self))
        found = cache.get(ck)
        if found is not None:
            return found
        first = self.conditions[0]
        readings = first.readings(args, cache)
        if readings is None:
            found = set()
        elif first.any_reading:
            found = set()
            for r in readings:
                found |= self._hits(r)
        else:
            alive: set[int] | None = None
            for group in readings:
                for r in group:
                    h = self._hits(r)
                    alive = h if alive is None else alive & h
            found = set(range(len(self.conditions))) if alive is None else alive
        cache[ck] = found
        return found


class Candidates:
    """The rules that can match one (direction, method, tool, risk), and their batched argument conditions."""

    __slots__ = ("items", "batchable", "batches", "distinct", "fast", "first_unconditional", "decision")

    def __init__(self, items: tuple) -> None:
        self.items = items  # (rule, static match: True or MAYBE), in rule order
        # The decision, when no argument can change it (set by the policy view that owns this entry, and gone
        # with it on a reload): None while it has to be evaluated per call.
        self.decision: Any = None
        self.batchable = len(items) >= BATCH_MIN_CONDITIONS  # too few rules to be worth a set
        self.batches: dict[int, ConditionBatch] | None = None
        self.distinct: list[ConditionBatch] = []
        self.fast = False  # every condition batched and every static match certain: decide by set hits
        self.first_unconditional = len(items)

    def batch_of(self) -> dict[int, ConditionBatch]:
        """The batch of each batched condition (by ``id``), built on first use."""
        if self.batches is None:
            groups: dict[tuple, list[tuple[int, ArgCondition]]] = {}
            for pos, (rule, _) in enumerate(self.items):
                for cond in rule.conditions:
                    if not isinstance(cond, ArgCondition):  # an exact call compares one digest: nothing to batch
                        continue
                    groups.setdefault((cond.key, cond.any_reading, cond.casefolds, cond.kind, cond.fold), []).append((pos, cond))
            batches: dict[int, ConditionBatch] = {}
            for members in groups.values():
                if len(members) >= BATCH_MIN_CONDITIONS:
                    try:
                        batch = ConditionBatch([c for _, c in members])
                    except Exception:  # too large for one automaton: fall back to one match per condition
                        continue
                    batch.rule_pos = [pos for pos, _ in members]
                    for _, c in members:
                        batches[id(c)] = batch
            # Both pumps may get here at once: fill every field first, publish ``batches`` last.
            self.distinct = list({id(b): b for b in batches.values()}.values())
            self.first_unconditional = next((i for i, (rule, _) in enumerate(self.items) if not rule.conditions), len(self.items))
            self.fast = all(static is True for _, static in self.items) and all(
                id(c) in batches for rule, _ in self.items for c in rule.conditions
            )
            self.batches = batches
        return self.batches

    def first_match(self, args: Any, cache: dict) -> Rule | None:
        """Fast path: the rules worth checking are those one of whose conditions hit; the first of them whose
        conditions all hit wins, unless a rule without conditions comes before it."""
        assert self.batches is not None
        seen: set[int] = set()
        for batch in self.distinct:
            rule_pos = batch.rule_pos
            seen.update(rule_pos[i] for i in batch.hits(args, cache))
        batches = self.batches
        for pos in sorted(seen):
            if pos > self.first_unconditional:
                break
            rule = self.items[pos][0]
            if all(batches[id(c)].index[id(c)] in batches[id(c)].hits(args, cache) for c in rule.conditions):
                return rule
        return self.items[self.first_unconditional][0] if self.first_unconditional < len(self.items) else None

