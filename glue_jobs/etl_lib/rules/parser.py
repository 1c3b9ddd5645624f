"""DQDL text -> a Ruleset (etl_lib.rules.model), with one-line errors that give the position.

The syntax follows AWS's published DQDL grammar (awslabs/dqdl): `Rules = [ ... ]`, rule type,
quoted parameters, a condition, an optional `where "<SQL>"` and `with threshold <condition>`,
composites of parenthesised rules joined by one of `and` / `or`, `#` comments. A comment
`# severity: quarantine|fail|warn` on the line of a rule or on the lines just before it sets the
severity this suite gives that rule; Glue Data Quality reads it as the comment it is.
"""

from __future__ import annotations

import re
from dataclasses import replace

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from etl_lib.rules.model import (
    SEVERITIES,
    AnyRule,
    Composite,
    Condition,
    Duration,
    Keyword,
    Now,
    Number,
    Position,
    Rule,
    Ruleset,
    RulesetError,
    Value,
)

GRAMMAR = r"""
start: metadata? "Rules" "=" "[" [rule ("," rule)*] "]"

metadata: "Metadata" "=" "{" [pair ("," pair)*] "}"
pair: STRING ":" (STRING | "[" STRING ("," STRING)* "]")

?rule: dq_rule | composite
composite: "(" rule ")" (LOGIC "(" rule ")")+
dq_rule: RULE_TYPE STRING* condition? where? threshold?
where: "where" STRING
threshold: "with" "threshold" condition

condition: COMPARATOR value                          -> compare
         | NOT? "between" value LOGIC value         -> between
         | NOT? "in" "[" value ("," value)* "]"     -> in_set
         | NOT? "matches" STRING                     -> matches

?value: NUMBER -> number
      | STRING -> string
      | KEYWORD -> keyword
      | duration
      | "now()" -> now
      | "(" "now()" SIGN duration ")" -> shifted_now
duration: NUMBER UNIT

LOGIC.2: "and" | "AND" | "or" | "OR"
NOT.2: "not" | "NOT"
KEYWORD.2: "NULL" | "EMPTY" | "WHITESPACES_ONLY"
UNIT.2: "days" | "hours"
COMPARATOR: ">=" | "<=" | "!=" | ">" | "<" | "="
SIGN: "+" | "-"
RULE_TYPE: /[A-Za-z][A-Za-z0-9_]*/
NUMBER: /-?\d+(\.\d+)?/
STRING: /"(\\.|[^"\\])*"/
COMMENT: /#[^\n]*/
WS: /[ \t\f\r\n]+/

%ignore WS
%ignore COMMENT
"""

# How a syntax error names what was expected.
TOKEN_NAMES = {"RSQB": "]", "LSQB": "[", "RPAR": ")", "LPAR": "(", "COMMA": ",", "EQUAL": "=", "COLON": ":",
               "STRING": "a quoted string", "NUMBER": "a number", "RULE_TYPE": "a rule type",
               "COMPARATOR": "a comparison", "LOGIC": "and/or", "KEYWORD": "NULL/EMPTY/WHITESPACES_ONLY"}  # fmt: skip
SEVERITY_COMMENT = re.compile(r"#\s*severity\s*:\s*(\S+)\s*$", re.IGNORECASE)


def _unquote(token: Token) -> str:
    """A quoted string's text: only \\" is an escape; other backslashes are the text's own
    (a regular expression's \\d stays \\d)."""
    return token[1:-1].replace('\\"', '"')


@v_args(inline=True)
class _ToModel(Transformer):  # type: ignore[type-arg]
    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source

    def _position(self, token: Token) -> Position:
        return Position(self.source, token.line or 0, token.column or 0)

    def number(self, token: Token) -> Number:
        return Number(str(token))

    def string(self, token: Token) -> str:
        return _unquote(token)

    def keyword(self, token: Token) -> Keyword:
        return Keyword(str(token))

    def duration(self, amount: Token, unit: Token) -> Duration:  # amount: a NUMBER token
        if not amount.isdigit():
            raise RulesetError(f"{self._position(amount)}: a duration is a whole number of days or hours")
        return Duration(int(amount), str(unit))

    def now(self) -> Now:
        return Now()

    def shifted_now(self, sign: Token, duration: Duration) -> Now:
        shift = duration.hours if sign == "+" else -duration.hours
        return Now(shift, f"(now() {sign} {duration})")

    def compare(self, operator: Token, value: Value) -> Condition:
        return Condition(str(operator), (value,))

    def between(self, *items: object) -> Condition:
        negated = isinstance(items[0], Token) and items[0].type == "NOT"
        low, logic, high = items[1:] if negated else items
        if str(logic).lower() != "and":
            raise RulesetError(f"{self._position(logic)}: between needs `and`, not `{logic}`")  # type: ignore[arg-type]
        return Condition("between", (low, high), negated)  # type: ignore[arg-type]

    def in_set(self, *items: object) -> Condition:
        negated = isinstance(items[0], Token) and items[0].type == "NOT"
        return Condition("in", tuple(items[1:] if negated else items), negated)  # type: ignore[arg-type]

    def matches(self, *items: Token) -> Condition:
        negated = items[0].type == "NOT"
        return Condition("matches", (_unquote(items[-1]),), negated)

    def where(self, token: Token) -> tuple[str, str]:
        return ("where", _unquote(token))

    def threshold(self, condition: Condition) -> tuple[str, Condition]:
        return ("threshold", condition)

    def dq_rule(self, rule_type: Token, *items: object) -> Rule:
        parameters = tuple(_unquote(item) for item in items if isinstance(item, Token))
        condition = next((item for item in items if isinstance(item, Condition)), None)
        clauses: dict[str, object] = dict(item for item in items if isinstance(item, tuple))
        where, threshold = clauses.get("where"), clauses.get("threshold")
        assert where is None or isinstance(where, str)
        assert threshold is None or isinstance(threshold, Condition)
        return Rule(str(rule_type), parameters, condition, where, threshold, position=self._position(rule_type))

    def composite(self, *items: object) -> Composite:
        rules = tuple(item for item in items if isinstance(item, Rule | Composite))
        operators = {str(item).lower() for item in items if isinstance(item, Token)}
        if len(operators) > 1:
            raise RulesetError(f"{rules[0].position}: mix of `and` and `or` without parentheses")
        return Composite(operators.pop(), rules, position=rules[0].position)

    def metadata(self, *_: object) -> None:
        return None

    def start(self, *items: object) -> tuple[AnyRule, ...]:
        return tuple(item for item in items if isinstance(item, Rule | Composite))


def _syntax_error(error: UnexpectedInput, source: str) -> RulesetError:
    where = f"{source}:{error.line}:{error.column}"
    if isinstance(error, UnexpectedEOF) or (isinstance(error, UnexpectedToken) and error.token.type == "$END"):
        return RulesetError(f"{where}: the ruleset ends early (is a `]` or `)` missing?)")
    if isinstance(error, UnexpectedToken):
        expected = ", ".join(sorted({TOKEN_NAMES.get(name, name.lower()) for name in error.expected}))
        return RulesetError(f"{where}: unexpected {error.token!s:.40}; expected {expected}")
    if isinstance(error, UnexpectedCharacters):
        return RulesetError(f"{where}: unexpected character {error.char!r}")
    return RulesetError(f"{where}: not valid DQDL")


def _end_line(rule: AnyRule) -> int:
    return max(_end_line(r) for r in rule.rules) if isinstance(rule, Composite) else rule.position.line


def _with_severities(rules: tuple[AnyRule, ...], comments: list[Token], source: str) -> tuple[AnyRule, ...]:
    """A severity comment belongs to the rule on its line, else to the next rule after it."""
    severities: dict[int, str] = {}
    for comment in comments:
        match = SEVERITY_COMMENT.match(str(comment))
        if not match:
            continue
        severity = match.group(1).lower()
        if severity not in SEVERITIES:
            raise RulesetError(f"{source}:{comment.line}:{comment.column}: severity {severity!r} is not one of "
                               f"{', '.join(SEVERITIES)}")  # fmt: skip
        line = comment.line or 0
        on_line = [i for i, rule in enumerate(rules) if rule.position.line <= line <= _end_line(rule)]
        following = [i for i, rule in enumerate(rules) if rule.position.line > line]
        target = on_line[0] if on_line else following[0] if following else None
        if target is None:
            raise RulesetError(f"{source}:{line}:{comment.column}: severity comment after the last rule")
        severities[target] = severity
    return tuple(replace(rule, severity=severities.get(i, rule.severity)) for i, rule in enumerate(rules))


def parse_ruleset(text: str, source: str = "rules") -> Ruleset:
    """The rules of a DQDL document; syntax errors are one line with the file, line and column."""
    comments: list[Token] = []  # collected by the lexer, which skips them for the parser
    parser = Lark(GRAMMAR, parser="lalr", propagate_positions=True, lexer_callbacks={"COMMENT": comments.append})
    try:
        tree: Tree[Token] = parser.parse(text)
        rules = _ToModel(source).transform(tree)
    except UnexpectedInput as error:
        raise _syntax_error(error, source) from None
    except VisitError as error:
        if isinstance(error.orig_exc, RulesetError):
            raise error.orig_exc from None
        raise
    return Ruleset(_with_severities(rules, comments, source), source)
