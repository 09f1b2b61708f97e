from __future__ import annotations

import json

from django import template

register = template.Library()


@register.filter
def audit_json(value) -> str:
    """An entry's before/after as compact JSON text ("" when absent); autoescaped like any string."""
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
