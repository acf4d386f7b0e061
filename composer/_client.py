"""A small typed client of the admin API, for the command line and scripts."""

from __future__ import annotations

from typing import Any

import httpx


class ApiError(Exception):
    """The API answered with a problem document."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.detail = status, code, detail


class AdminClient:
    def __init__(self, base_url: str, token: str, *, timeout: float = 120.0) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.close()

    def request(self, method: str, path: str, *, json: object = None, params: dict[str, Any] | None = None) -> Any:
        """Raises: ApiError on any non-2xx answer; httpx.HTTPError if the server cannot be reached."""
        query = {key: value for key, value in (params or {}).items() if value is not None}
        response = self._http.request(method, path, json=json, params=query)
        if response.is_success:
            return None if response.status_code == 204 or not response.content else response.json()
        try:
            problem = response.json()
        except ValueError:
            problem = {}
        raise ApiError(response.status_code, str(problem.get("code", "error")), str(problem.get("detail", "")))

    def text(self, method: str, path: str, *, content: str | None = None) -> str:
        """A request with and for plain text (Casbin CSV). Raises: as :meth:`request`."""
        headers = {"Content-Type": "text/csv"} if content is not None else None
        response = self._http.request(method, path, content=content, headers=headers)
        if response.is_success:
            return response.text
        try:
            problem = response.json()
        except ValueError:
            problem = {}
        raise ApiError(response.status_code, str(problem.get("code", "error")), str(problem.get("detail", "")))
