from __future__ import annotations

import json

from django import template

register = template.Library()


@register.filter
def audit_pairs(value) -> list[tuple[str, str]]:
    """An entry's before/after as (key, text) pairs for display; values that are not plain become
    compact JSON. Plain strings, autoescaped by the template like anything else."""
    if value is None:
        return []
    if not isinstance(value, dict):
        return [("", json.dumps(value, ensure_ascii=False))]
    return [(str(k), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)) for k, v in sorted(value.items())]


@register.simple_tag(takes_context=True)
def org_nav(context) -> dict[str, bool]:
    """Which of the organization's governance pages the signed-in user may open, for the nav."""
    from orgs.permissions import Action, Grants

    org, request = context.get("org"), context.get("request")
    if org is None or request is None:
        return {}
    grants = Grants.for_request(request, org)
    return {"audit": grants.can(Action.AUDIT_VIEW, org), "exports": grants.can(Action.EXPORT, org)}
