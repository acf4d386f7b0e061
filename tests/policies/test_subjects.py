"""Token role strings become request-time g links; tenant lines that could widen admin powers are privileged."""

from __future__ import annotations

import pytest

from policies import g_line, is_privileged, p_line, role_links, subject_of


@pytest.mark.parametrize(
    ("roles", "domain", "expected"),
    [
        (["platform_admin"], "acme", ((), ("platform_admin",))),
        (["platform_admin"], "*", ((), ("platform_admin",))),
        (["security_reviewer:*"], "acme", ((), ("security_reviewer",))),
        (["tenant_admin:acme"], "acme", (("tenant_admin",), ())),
        (["tenant_admin:acme"], "other", ((), ())),
        (["tenant_admin:acme", "security_reviewer:other"], "*", (("member",), ())),
        (["tenant_admin:acme", "security_reviewer:acme"], "acme", (("security_reviewer", "tenant_admin"), ())),
        (["analyst"], "acme", ((), ())),
        ([], "*", ((), ())),
    ],
)
def test_role_strings_link_roles_only_where_they_apply(
    roles: list[str], domain: str, expected: tuple[tuple[str, ...], tuple[str, ...]]
) -> None:
    assert role_links(roles, domain) == expected


def test_a_principal_name_gets_a_kind_unless_it_has_one() -> None:
    assert subject_of("alice") == "user:alice"
    assert subject_of("agent:bot") == "agent:bot"
    assert subject_of("svc:ci") == "svc:ci"
    assert subject_of("acme:alice") == "user:acme:alice"


def test_lines_naming_built_in_roles_or_admin_objects_are_privileged() -> None:
    assert is_privileged(g_line("user:ada", "security_reviewer", "acme"))
    assert is_privileged(g_line("tenant_admin", "analyst", "acme"))
    assert is_privileged(p_line("analyst", "acme", "admin/reviews", "review"))
    assert is_privileged(p_line("analyst", "acme", "*", "*"))
    assert is_privileged(p_line("analyst", "acme", "mcp*", "call"))
    assert not is_privileged(p_line("analyst", "acme", "mcp/*", "call"))
    assert not is_privileged(g_line("agent:bot", "analyst", "acme"))
