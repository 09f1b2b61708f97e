"""Personal API tokens: `Authorization: Token <token>`, checked against the stored hash."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from clouds.keys import hash_key
from orgs.models import ApiToken


class PersonalTokenAuthentication(TokenAuthentication):
    """DRF's token scheme (the same header, answers and OpenAPI description), with the token looked
    up by its SHA-256: the database holds no token a dump could replay (orgs.models.ApiToken)."""

    def authenticate_credentials(self, key: str):
        token = ApiToken.objects.select_related("user").filter(token_hash=hash_key(key)).first()
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return token.user, token
