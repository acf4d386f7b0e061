"""What an MCP endpoint says about its protection: canonical URIs, RFC 9728 metadata, Bearer challenges."""

from __future__ import annotations

import pytest

from registry import (
    AuthenticationError,
    InsufficientScopeError,
    InvalidAuthorizationError,
    InvalidInputError,
    InvalidTokenError,
    IssuerUnavailableError,
    MissingCredentialsError,
    PermissionDeniedError,
    bearer_token,
    canonical_uri,
    challenge,
    endpoint_path,
    metadata_url,
    protected_resource_metadata,
    resource_path,
    resource_uri,
    www_authenticate,
)

METADATA = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp/acme/support"


@pytest.mark.parametrize(
    ("uri", "canonical"),
    [
        ("HTTPS://MCP.Example.com:443/mcp/acme/support/", "https://mcp.example.com/mcp/acme/support"),
        ("http://127.0.0.1:80/mcp/a/b", "http://127.0.0.1/mcp/a/b"),
        ("http://127.0.0.1:8000/mcp/a/b?x=1", "http://127.0.0.1:8000/mcp/a/b"),
        ("http://[::1]:8000/mcp/a/b", "http://[::1]:8000/mcp/a/b"),
        ("https://mcp.example.com", "https://mcp.example.com"),
    ],
)
def test_canonical_uris_lowercase_scheme_and_host_and_drop_default_ports_and_trailing_slashes(
    uri: str, canonical: str
) -> None:
    assert canonical_uri(uri) == canonical


@pytest.mark.parametrize("uri", ["ftp://h/x", "/mcp/a/b", "https://h/x#frag", "https://h:99999/x", "https:///x"])
def test_what_is_not_an_absolute_http_uri_has_no_canonical_form(uri: str) -> None:
    with pytest.raises(InvalidInputError):
        canonical_uri(uri)


def test_the_resource_uri_comes_from_the_request_or_the_public_base_url() -> None:
    path = endpoint_path("acme", "support")
    assert path == "/mcp/acme/support"
    assert resource_uri("http", "127.0.0.1:8000", path) == "http://127.0.0.1:8000/mcp/acme/support"
    behind_proxy = resource_uri("http", "10.0.0.5:8000", path, public_base_url="https://MCP.example.com/atrium/")
    assert behind_proxy == "https://mcp.example.com/atrium/mcp/acme/support"


def test_the_metadata_url_inserts_the_well_known_segment_before_the_path_and_maps_back() -> None:
    resource = "https://mcp.example.com/mcp/acme/support"
    assert metadata_url(resource) == METADATA
    assert resource_path("/.well-known/oauth-protected-resource/mcp/acme/support") == "/mcp/acme/support"
    assert resource_path("/.well-known/oauth-protected-resourcex/mcp") is None
    assert resource_path("/mcp/acme/support") is None


def test_the_metadata_document_names_the_resource_its_issuers_and_scopes() -> None:
    document = protected_resource_metadata(
        "https://mcp.example.com/mcp/acme/support",
        authorization_servers=["https://id.example.com", "https://id.example.com"],
        scopes_supported=["mcp"],
    )
    assert document == {
        "resource": "https://mcp.example.com/mcp/acme/support",
        "bearer_methods_supported": ["header"],
        "authorization_servers": ["https://id.example.com"],
        "scopes_supported": ["mcp"],
    }
    # A tenant with API keys only has no issuer to name: the member is left out, not sent empty.
    assert "authorization_servers" not in protected_resource_metadata("https://h/mcp/a/b", authorization_servers=[])


def test_a_request_without_credentials_is_challenged_without_an_error_code() -> None:
    status, header = challenge(MissingCredentialsError("no token"), resource_metadata=METADATA, scopes=["mcp"])
    assert status == 401
    assert header == f'Bearer resource_metadata="{METADATA}", scope="mcp"'


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (InvalidTokenError("the token has expired"), 401, "invalid_token"),
        (AuthenticationError("plain"), 401, "invalid_token"),
        (InvalidAuthorizationError("bad header"), 400, "invalid_request"),
    ],
)
def test_a_bad_credential_is_challenged_with_its_rfc_6750_error(
    error: AuthenticationError, status: int, code: str
) -> None:
    got_status, header = challenge(error, resource_metadata=METADATA)
    assert got_status == status
    assert header is not None
    assert header.startswith(f'Bearer resource_metadata="{METADATA}", error="{code}", error_description="')


def test_insufficient_scope_is_a_403_naming_the_scopes_to_ask_for() -> None:
    error = InsufficientScopeError("needs more", scopes=("mcp:read", "mcp:call"))
    status, header = challenge(error, resource_metadata=METADATA, scopes=["ignored"])
    assert status == 403
    assert header == (
        f'Bearer resource_metadata="{METADATA}", error="insufficient_scope", '
        'error_description="needs more", scope="mcp:read mcp:call"'
    )


def test_errors_that_are_no_fault_of_the_credential_carry_no_challenge() -> None:
    assert challenge(IssuerUnavailableError("down"), resource_metadata=METADATA) == (503, None)
    assert challenge(PermissionDeniedError("policy"), resource_metadata=METADATA) == (403, None)


def test_no_value_can_break_out_of_the_quoted_challenge_parameters() -> None:
    header = www_authenticate(
        resource_metadata=METADATA,
        error="invalid_token",
        description='say "hi"\\\r\nSet-Cookie: x',
        scopes=['a"b', "ok"],
    )
    assert header == (
        f'Bearer resource_metadata="{METADATA}", error="invalid_token", error_description="say hiSet-Cookie: x", scope="ok"'
    )


@pytest.mark.parametrize(
    ("header", "token"), [("Bearer abc.def-ghi_", "abc.def-ghi_"), ("bearer   tok==", "tok=="), (" Bearer x ", "x")]
)
def test_the_bearer_token_is_taken_from_the_authorization_header(header: str, token: str) -> None:
    assert bearer_token(header) == token
