"""The Casbin model shipped in ``policies/model.conf``, and a plain enforcer on it.

The fast path in :mod:`policies._index` must decide exactly as pycasbin does with this model;
the few pycasbin behaviours it mirrors are named here so both sides share one source.
"""

from __future__ import annotations

from importlib.resources import files
from typing import TYPE_CHECKING

import casbin

if TYPE_CHECKING:
    from collections.abc import Iterable

    from policies._lines import PolicyLine

# A g line in this domain grants its role everywhere; a p line in it applies in every tenant;
# requests about the platform itself (no tenant) are asked in it too.
ANY_DOMAIN = "*"
ALLOW = "allow"
DENY = "deny"
# pycasbin's DomainManager(10): ``g(a, b, d)`` holds iff b is reachable from a in at most 9 hops
# of domain d's g lines (a itself at 0 hops, so ``g(a, a, d)`` always holds).
MAX_ROLE_HOPS = 9


def model_text() -> str:
    return files("policies").joinpath("model.conf").read_text(encoding="utf-8")


def new_enforcer(lines: Iterable[PolicyLine] = ()) -> casbin.Enforcer:
    """A plain pycasbin enforcer on Atrium's model holding ``lines``: the reference semantics."""
    model = casbin.Model()
    model.load_model_from_text(model_text())
    enforcer = casbin.Enforcer(model)
    for line in lines:
        if line.ptype == "p":
            enforcer.add_policy(*line.values)
        else:
            enforcer.add_named_grouping_policy("g", *line.values)
    return enforcer
