"""Public endpoints: API versions and auth tokens (FlexMeasures-compatible)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api.auth import TokenService
from api.deps import Services, get_tokens
from api.login import password_login
from api.schemas import TokenOut, VersionsOut
from api.version import FLEXMEASURES_VERSION

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
    login = password_login(services, tokens, body.email, body.password)
    return {"auth_token": login.token, "user_id": login.user["id"]}
