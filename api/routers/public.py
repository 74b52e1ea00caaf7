"""Public endpoints: API versions and auth tokens (FlexMeasures-compatible)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api.auth import TokenService, password_hash_of
from api.deps import Services, get_tokens
from api.errors import ApiError
from api.schemas import TokenOut, VersionsOut
from api.version import FLEXMEASURES_VERSION
from commands.registry import verify_password
from domain.credentials import credential_stream
from projections import registry_query as rq
from projections.credentials import credentials_of

router = APIRouter(tags=["public"])


@router.get("/api/", response_model=VersionsOut)
def list_versions() -> dict:
    """API versions served, and the FlexMeasures release whose API this server matches."""
    return {
        "message": "For these API versions a public endpoint is available, listing its service.",
        "versions": ["v2_0", "v3_0"],
        "flexmeasures_version": FLEXMEASURES_VERSION,
        "status": 200,
    }


class TokenRequest(BaseModel):
    email: str
    password: str


@router.post("/api/requestAuthToken", response_model=TokenOut)
def request_auth_token(
    body: TokenRequest, services: Services, tokens: Annotated[TokenService, Depends(get_tokens)]
) -> dict:
    """Exchange e-mail and password for an auth token (``auth_token``)."""
    with services.read_connection() as conn:
        user = rq.user_by_email(conn, body.email)
        credentials = credentials_of(conn, user["id"]) if user else None
    if user is not None and credentials is None and not user.get("password_hash"):  # a user registered just now
        stream = credential_stream(user["id"])
        services.consistency.wait_until_projected("projection.credentials", stream_id=stream)
        with services.read_connection() as conn:
            credentials = credentials_of(conn, user["id"])
    password_hash = password_hash_of(credentials, user)
    if user is None or not password_hash or not verify_password(body.password, password_hash):
        raise ApiError(401, "UNAUTHORIZED", "wrong e-mail or password", "email")
    if not user["active"]:
        raise ApiError(401, "UNAUTHORIZED", "this user is deactivated", "email")
    epoch = credentials["token_epoch"] if credentials else 0
    return {"auth_token": tokens.issue(user["id"], epoch), "user_id": user["id"]}
