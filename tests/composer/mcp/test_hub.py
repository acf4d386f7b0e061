"""The change hub: fan-out per endpoint, unsubscribe, shutdown, and isolation of a broken listener."""

from __future__ import annotations

import pytest

from composer.mcp import Change, ListChangedHub


class Recorder:
    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.closed = False

    def changed(self, change: Change) -> None:
        self.changes.append(change)

    def hub_closed(self) -> None:
        self.closed = True


class Broken(Recorder):
    def changed(self, change: Change) -> None:
        raise RuntimeError("listener bug")


def test_changes_reach_the_listeners_of_their_endpoint_only() -> None:
    hub = ListChangedHub()
    mine, other = Recorder(), Recorder()
    hub.subscribe("acme", "demo", mine)
    hub.subscribe("acme", "other", other)
    assert hub.publish("acme", "demo", "tools") == 1
    assert hub.publish_resource_updated("acme", "demo", "memo://1") == 1
    assert mine.changes == [Change(kind="tools"), Change(kind="resource", uri="memo://1")]
    assert [change.method for change in mine.changes] == [
        "notifications/tools/list_changed",
        "notifications/resources/updated",
    ]
    assert other.changes == []


def test_unsubscribing_stops_delivery_and_close_ends_listeners() -> None:
    hub = ListChangedHub()
    gone, staying = Recorder(), Recorder()
    unsubscribe = hub.subscribe("acme", "demo", gone)
    hub.subscribe("acme", "demo", staying)
    unsubscribe()
    unsubscribe()  # idempotent
    hub.publish("acme", "demo", "prompts")
    hub.close()
    assert (gone.changes, gone.closed) == ([], False)
    assert (len(staying.changes), staying.closed) == (1, True)
    assert hub.listener_count("acme", "demo") == 1


def test_a_broken_listener_does_not_starve_the_others(caplog: pytest.LogCaptureFixture) -> None:
    hub = ListChangedHub()
    good = Recorder()
    hub.subscribe("acme", "demo", Broken())
    hub.subscribe("acme", "demo", good)
    assert hub.publish("acme", "demo", "resources") == 2
    assert good.changes == [Change(kind="resources")]
    assert "listener bug" in caplog.text


def test_a_tenant_wide_change_reaches_every_endpoint_of_that_tenant_only() -> None:
    hub = ListChangedHub()
    demo, support, elsewhere = Recorder(), Recorder(), Recorder()
    hub.subscribe("acme", "demo", demo)
    hub.subscribe("acme", "support", support)
    hub.subscribe("globex", "demo", elsewhere)
    assert hub.publish_everywhere("acme", "tools") == 2
    assert demo.changes == support.changes == [Change(kind="tools")]
    assert elsewhere.changes == []
    assert hub.publish_everywhere(None, "prompts") == 3
    assert elsewhere.changes == [Change(kind="prompts")]
