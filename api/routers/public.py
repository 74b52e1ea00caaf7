"""Public endpoints: API versions and auth tokens (FlexMeasures-compatible)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api.auth import TokenService
from api.deps import PlatformDep, get_tokens
from api.errors import ApiError
from api.schemas import TokenOut, VersionsOut
from api.version import FLEXMEASURES_VERSION
from commands.registry import verify_password
from projections import registry_query as rq

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
    body: TokenRequest, platform: PlatformDep, tokens: Annotated[TokenService, Depends(get_tokens)]
) -> dict:
    """Exchange e-mail and password for an auth token (``auth_token``)."""
    with platform.read_models.read_engine.connect() as conn:
        user = rq.user_by_email(conn, body.email)
    if user is None or not verify_password(body.password, user["password_hash"]):
        raise ApiError(401, "UNAUTHORIZED", "wrong e-mail or password", "email")
    return {"auth_token": tokens.issue(user["id"]), "user_id": user["id"]}
