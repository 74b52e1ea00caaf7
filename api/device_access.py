"""Who may command a device: users of the device's account (admins: any device); auditors never."""

from __future__ import annotations

from api.auth import CurrentUser
from api.errors import ApiError


def require_control(user: CurrentUser, asset: dict) -> None:
    """403 unless ``user`` may command the device ``asset`` (a registry row)."""
    if "auditor" in user.roles:
        raise ApiError(403, "INVALID_SENDER", "auditors cannot command devices")
    if not user.is_admin and user.account_id != asset["account_id"]:
        raise ApiError(403, "INVALID_SENDER", "this device belongs to another account")
