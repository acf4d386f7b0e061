from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from composer import create_app
from registry import Catalog, Review, Settings, Tokens, create_session_factory

MintToken = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
async def app(settings: Settings, engine: AsyncEngine) -> Litestar:
    # `engine` first: it migrates the database the app is about to use.
    return create_app(settings, run_scheduler=False)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app) as test_client:
        yield test_client


@pytest.fixture
def catalog(engine: AsyncEngine) -> Catalog:
    """The catalog on the test's own event loop (the app runs on the test client's)."""
    return Catalog(create_session_factory(engine))


@pytest.fixture
def review(engine: AsyncEngine) -> Review:
    return Review(create_session_factory(engine))


@pytest.fixture
def auth(engine: AsyncEngine) -> MintToken:
    """Mint a token with ``roles`` and return the headers that present it."""
    tokens = Tokens(create_session_factory(engine))

    async def mint(*roles: str, principal: str = "tester") -> dict[str, str]:
        minted = await tokens.mint(principal, list(roles))
        return {"Authorization": f"Bearer {minted.secret}"}

    return mint
