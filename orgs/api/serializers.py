from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from rest_framework import serializers

from orgs.models import AuditEntry, Membership, Organization, Role


class SwitchSerializer(serializers.Serializer):
    """On or off: the lineage beta of an org, the lineage toggle of a cloud."""

    enabled = serializers.BooleanField()


class SwitchResultSerializer(SwitchSerializer):
    changed = serializers.BooleanField(read_only=True, help_text="False when it was already in that state.")


class OrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["slug", "name", "lineage_beta_enabled", "created_at"]


class MembershipSerializer(serializers.ModelSerializer):
    user_id = serializers.IntegerField(read_only=True)
    email = serializers.CharField(source="user.get_username", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user_id", "email", "role", "created_at"]
        read_only_fields = ["id", "user_id", "email", "created_at"]


class MemberCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)
    password = serializers.CharField(
        required=False, allow_blank=True, write_only=True, trim_whitespace=False,
        help_text="Only for a new account; an existing user's password is never changed here.",
    )

    def validate_password(self, value: str) -> str:
        if value:
            validate_password(value)
        return value


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label")

    class Meta:
        model = AuditEntry
        fields = ["id", "created_at", "actor", "action", "target_type", "target_id", "target_label", "cloud_id",
                  "before", "after", "allowed", "request_id"]
