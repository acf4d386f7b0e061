"""Policy lines as values, their validation, and Casbin's CSV format.

A line is ``p, <subject>, <domain>, <object>, <action>, <allow|deny>`` or
``g, <subject>, <role>, <domain>``: exactly a row of Casbin's CSV policy file, so an export can
be reviewed in version control and loaded by any Casbin tool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import msgspec

from policies._model import ALLOW, DENY
from policies._names import check_action, check_domain, check_object, check_role, check_subject
from registry import InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Iterable

PType = Literal["p", "g"]
ARITY = {"p": 5, "g": 3}


class PolicyLine(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One Casbin policy line: ``ptype`` and its values in the model's order."""

    ptype: PType
    values: tuple[str, ...]

    @property
    def domain(self) -> str:
        return self.values[1] if self.ptype == "p" else self.values[2]

    def csv(self) -> str:
        return ", ".join((self.ptype, *self.values))


class StoredPolicyLine(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    ptype: PType
    values: tuple[str, ...]

    def line(self) -> PolicyLine:
        return PolicyLine(ptype=self.ptype, values=self.values)


def p_line(subject: str, domain: str, obj: str, action: str, effect: str = ALLOW) -> PolicyLine:
    return PolicyLine(ptype="p", values=(subject, domain, obj, action, effect))


def g_line(subject: str, role: str, domain: str) -> PolicyLine:
    return PolicyLine(ptype="g", values=(subject, role, domain))


def check_line(line: PolicyLine) -> PolicyLine:
    """Raises: InvalidInputError: wrong arity, or a value that is not what its position names."""
    if line.ptype not in ARITY:
        raise InvalidInputError(f"invalid ptype {line.ptype!r}: expected p or g")
    if len(line.values) != ARITY[line.ptype]:
        raise InvalidInputError(f"a {line.ptype} line has {ARITY[line.ptype]} values, got {len(line.values)}")
    if line.ptype == "g":
        subject, role, domain = line.values
        check_subject(subject), check_role(role), check_domain(domain)
        return line
    subject, domain, obj, action, effect = line.values
    check_subject(subject), check_domain(domain), check_object(obj), check_action(action)
    if effect not in (ALLOW, DENY):
        raise InvalidInputError(f"invalid effect {effect!r}: expected allow or deny")
    return line


def parse_csv(text: str, *, domain: str | None = None) -> list[PolicyLine]:
    """Parse and validate Casbin CSV as a whole; blank lines and ``#`` comments are skipped.

    ``domain``: every line must be of this domain (a tenant's import holds only its own lines).

    Raises:
        InvalidInputError: the first bad line, named by its line number; nothing is returned.
    """
    lines: list[PolicyLine] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        ptype, *values = (token.strip() for token in stripped.split(","))
        try:
            if ptype not in ARITY:
                raise InvalidInputError(f"invalid ptype {ptype!r}: expected p or g")
            line = check_line(PolicyLine(ptype=ptype, values=tuple(values)))  # type: ignore[arg-type]
            if domain is not None and line.domain != domain:
                raise InvalidInputError(f"its domain is {line.domain!r}, not {domain!r}")
            lines.append(line)
        except InvalidInputError as exc:
            raise InvalidInputError(f"line {number}: {exc.detail}") from exc
    return lines


def format_csv(lines: Iterable[PolicyLine]) -> str:
    """Casbin CSV, p lines before g lines, each group sorted: a stable text for version control."""
    ordered = sorted(lines, key=lambda line: (line.ptype != "p", line.domain, line.values))
    return "".join(f"{line.csv()}\n" for line in ordered)
