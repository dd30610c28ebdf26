"""Composite alarm rules: ALARM(x) / OK(x) / INSUFFICIENT_DATA(x), AND, OR, NOT, parentheses, TRUE, FALSE."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from failsafe_tools.local.alarms.common import STATES, UnsupportedAlarmError

# --------------------------------------------------------------------------------------------------------
# composite rules

RULE_TOKEN = re.compile(
    r"\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<fn>ALARM|OK|INSUFFICIENT_DATA)\s*\(\s*(?:\"(?P<q>[^\"]*)\"|(?P<n>[^)\s]+))\s*\)"
    r"|(?P<kw>AND|OR|NOT|TRUE|FALSE)\b)"
)


RuleNode = tuple[Any, ...]
StateOf = Callable[[str], str | None]


class _RuleParser:
    """Recursive descent: or := and (OR and)*; and := not (AND not)*; not := NOT not | atom."""

    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.tokens = self._tokenize(rule)
        self.index = 0

    def _tokenize(self, rule: str) -> list[tuple[str, str]]:
        tokens: list[tuple[str, str]] = []
        text = rule.strip()
        position = 0
        while position < len(text):
            match = RULE_TOKEN.match(text, position)
            if match is None or match.end() == position:
                raise UnsupportedAlarmError(f"AlarmRule {rule!r}: cannot parse at {text[position:][:40]!r}")
            if match.group("lp"):
                tokens.append(("(", "("))
            elif match.group("rp"):
                tokens.append((")", ")"))
            elif match.group("fn"):
                tokens.append((match.group("fn"), rule_target(match)))
            else:
                tokens.append((match.group("kw"), match.group("kw")))
            position = match.end()
            while position < len(text) and text[position].isspace():
                position += 1
        if not tokens:
            raise UnsupportedAlarmError("AlarmRule is empty")
        return tokens

    def peek(self) -> str | None:
        return self.tokens[self.index][0] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        if self.index >= len(self.tokens):
            raise UnsupportedAlarmError(f"AlarmRule {self.rule!r}: unexpected end")
        self.index += 1
        return self.tokens[self.index - 1]

    def parse(self) -> RuleNode:
        tree = self.expr_or()
        if self.index != len(self.tokens):
            raise UnsupportedAlarmError(f"AlarmRule {self.rule!r}: unexpected {self.tokens[self.index][1]!r}")
        return tree

    def expr_or(self) -> RuleNode:
        left = self.expr_and()
        while self.peek() == "OR":
            self.take()
            left = ("or", left, self.expr_and())
        return left

    def expr_and(self) -> RuleNode:
        left = self.expr_not()
        while self.peek() == "AND":
            self.take()
            left = ("and", left, self.expr_not())
        return left

    def expr_not(self) -> RuleNode:
        if self.peek() == "NOT":
            self.take()
            return ("not", self.expr_not())
        return self.atom()

    def atom(self) -> RuleNode:
        kind, value = self.take()
        if kind == "(":
            inner = self.expr_or()
            if self.take()[0] != ")":
                raise UnsupportedAlarmError(f"AlarmRule {self.rule!r}: missing ')'")
            return inner
        if kind in ("TRUE", "FALSE"):
            return ("const", kind == "TRUE")
        if kind in STATES:
            return ("state", kind, value)
        raise UnsupportedAlarmError(f"AlarmRule {self.rule!r}: unexpected {value!r}")


def rule_target(match: re.Match[str]) -> str:
    target = match.group("q") if match.group("q") is not None else match.group("n")
    return target.split(":alarm:", 1)[-1] if target.startswith("arn:") else target


def parse_alarm_rule(rule: str) -> RuleNode:
    """Parse an AlarmRule into a tree for `evaluate_rule` (`UnsupportedAlarmError` names the position)."""
    return _RuleParser(rule).parse()


def evaluate_rule(node: RuleNode, state_of: StateOf) -> bool | None:
    """True/False, or None when the rule depends on an alarm that does not exist."""
    kind = node[0]
    if kind == "const":
        return bool(node[1])
    if kind == "state":
        got = state_of(node[2])
        return None if got is None else got == node[1]
    if kind == "not":
        inner = evaluate_rule(node[1], state_of)
        return None if inner is None else not inner
    left, right = evaluate_rule(node[1], state_of), evaluate_rule(node[2], state_of)
    return _and(left, right) if kind == "and" else _or(left, right)


def _or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def rule_alarm_names(rule: str) -> list[str]:
    return [rule_target(match) for match in RULE_TOKEN.finditer(rule) if match.group("fn")]
