"""Security review: pending versions and description overrides, and deciding them."""

from __future__ import annotations

import click

from composer.cli._common import admin_api, pages, with_api


@click.group()
def review() -> None:
    """Security review of tool and prompt versions."""


@review.command("pending")
@click.option("--tenant", default=None)
@click.option("--min-risk", type=click.Choice(["none", "low", "medium", "high", "critical"]), default=None)
@with_api
def review_pending(tenant: str | None, min_risk: str | None, url: str, api_token: str) -> None:
    with admin_api(url, api_token) as api:
        for page in pages(api, "/api/v1/reviews/pending", {"tenant": tenant, "min_risk": min_risk}):
            for entry in page:
                item, version = entry["item"], entry["version"]
                click.echo(
                    f"item {item['id']:>5}  {version['hash']}  {version['risk']:<8} "
                    f"{item['upstream_slug']}/{item['kind']}:{item['key']}"
                )


@review.command("overrides")
@click.option("--tenant", default=None)
@click.option("--min-risk", type=click.Choice(["none", "low", "medium", "high", "critical"]), default=None)
@with_api
def review_overrides(tenant: str | None, min_risk: str | None, url: str, api_token: str) -> None:
    """Description overrides waiting for a decision, with their scan findings."""
    with admin_api(url, api_token) as api:
        for page in pages(api, "/api/v1/reviews/overrides", {"tenant": tenant, "min_risk": min_risk}):
            for entry in page:
                click.echo(
                    f"{entry['tenant']}/{entry['virtual_server']} entry {entry['entry_id']:>5}  "
                    f"{entry['scan']['risk']:<8} {entry['kind']}:{entry['exposed_name']}"
                )
                click.echo(f"  override: {entry['override']!r}")
                for finding in entry["scan"]["findings"]:
                    click.echo(f"  [{finding['severity']}] {finding['code']}: {finding['message']}")


@review.command("decide-override")
@click.argument("tenant")
@click.argument("virtual_server")
@click.argument("entry_id", type=int)
@click.argument("decision", type=click.Choice(["approve", "reject"]))
@click.option("--reason", required=True)
@with_api
def review_decide_override(
    tenant: str, virtual_server: str, entry_id: int, decision: str, reason: str, url: str, api_token: str
) -> None:
    with admin_api(url, api_token) as api:
        entry = api.request(
            "POST",
            f"/api/v1/reviews/overrides/{tenant}/{virtual_server}/{entry_id}",
            json={"decision": decision, "reason": reason},
        )
    click.echo(f"override of {entry['exposed_name']} is now {entry['override_status']}")


@review.command("show")
@click.argument("item_id", type=int)
@click.argument("digest")
@with_api
def review_show(item_id: int, digest: str, url: str, api_token: str) -> None:
    with admin_api(url, api_token) as api:
        version = api.request("GET", f"/api/v1/catalog/items/{item_id}/versions/{digest}")
    click.echo(f"status {version['status']}, risk {version['risk']}")
    for finding in version["findings"]:
        click.echo(f"  [{finding['severity']}] {finding['code']} at {finding['path']}: {finding['message']}")
    click.echo(version["diff"])


@review.command("approve")
@click.argument("item_id", type=int)
@click.argument("digest")
@click.option("--reason", required=True)
@with_api
def review_approve(item_id: int, digest: str, reason: str, url: str, api_token: str) -> None:
    _decide(item_id, digest, "approve", reason, url, api_token)


@review.command("reject")
@click.argument("item_id", type=int)
@click.argument("digest")
@click.option("--reason", required=True)
@with_api
def review_reject(item_id: int, digest: str, reason: str, url: str, api_token: str) -> None:
    _decide(item_id, digest, "reject", reason, url, api_token)


def _decide(item_id: int, digest: str, decision: str, reason: str, url: str, api_token: str) -> None:
    with admin_api(url, api_token) as api:
        version = api.request(
            "POST",
            f"/api/v1/reviews/items/{item_id}/versions/{digest}",
            json={"decision": decision, "reason": reason},
        )
    click.echo(f"{digest[:12]} is now {version['status']}")
