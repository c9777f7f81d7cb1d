"""The one role matrix: which roles hold each permission. Views, templates and tests read it."""

from __future__ import annotations

from accounts.models import Role

OWN, ADM, DEV, BIL, VIE = Role.OWNER, Role.ADMIN, Role.DEVELOPER, Role.BILLING, Role.VIEWER
EVERYONE = frozenset({OWN, ADM, DEV, BIL, VIE})

# permission → (label shown in the matrix, roles that hold it)
PERMISSIONS: dict[str, tuple[str, frozenset[str]]] = {
    "console.view": ("See the home page and the service catalogue", EVERYONE),
    "usage.view": ("See usage and the request log", EVERYONE),
    "keys.view": ("See API keys (Developers: their own)", frozenset({OWN, ADM, DEV, VIE})),
    "keys.manage": (
        "Create, change, roll, revoke keys (Developers: their own)",
        frozenset({OWN, ADM, DEV}),
    ),
    "keys.manage_all": ("Manage every member's keys", frozenset({OWN, ADM})),
    "playground.use": ("Run services in the playground", frozenset({OWN, ADM, DEV})),
    "knowledge.view": ("See knowledge bases", EVERYONE),
    "knowledge.manage": (
        "Create and delete knowledge bases and documents",
        frozenset({OWN, ADM, DEV}),
    ),
    "webhooks.view": ("See webhooks", frozenset({OWN, ADM, DEV, VIE})),
    "webhooks.manage": ("Create, change and delete webhooks", frozenset({OWN, ADM, DEV})),
    "credits.view": ("See the balance and the ledger", frozenset({OWN, ADM, BIL, VIE})),
    "credits.buy": ("Buy credits, set the low-balance alert", frozenset({OWN, BIL})),
    "members.view": ("See members, invitations and this matrix", EVERYONE),
    "members.manage": ("Invite, change roles, remove members (not Owners)", frozenset({OWN, ADM})),
    "owners.manage": ("Make, change and remove Owners", frozenset({OWN})),
    "activity.view": ("See the organisation's activity log", frozenset({OWN, ADM})),
    "org.view": ("See the organisation's settings", EVERYONE),
    "org.rename": ("Rename the organisation", frozenset({OWN, ADM})),
    "org.require_mfa": ("Require a second factor of every member", frozenset({OWN})),
    "org.delete": ("Delete the organisation", frozenset({OWN})),
}

ROLE_ORDER: list[str] = [OWN, ADM, DEV, BIL, VIE]


def role_has(role: str, permission: str) -> bool:
    """Whether `role` holds `permission`. An unknown permission is a programming error."""
    return role in PERMISSIONS[permission][1]


def matrix_rows() -> list[dict[str, object]]:
    """The matrix as table rows for the Members page: label and one bool per role."""
    return [
        {"permission": name, "label": label, "cells": [role in roles for role in ROLE_ORDER]}
        for name, (label, roles) in PERMISSIONS.items()
    ]
