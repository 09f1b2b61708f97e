from __future__ import annotations

from rest_framework import serializers

from clouds.models import Cloud, CloudOwner, IngestKey, LineageToggleChange, Project


class CloudSerializer(serializers.ModelSerializer):
    lineage_enabled = serializers.BooleanField(source="lineage_on", read_only=True)

    class Meta:
        model = Cloud
        fields = ["id", "name", "public_id", "lineage_enabled", "created_at"]


class ToggleChangeSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label")

    class Meta:
        model = LineageToggleChange
        fields = ["enabled", "changed_at", "actor"]


class CloudOwnerSerializer(serializers.ModelSerializer):
    email = serializers.CharField(source="user.get_username", read_only=True)

    class Meta:
        model = CloudOwner
        fields = ["user_id", "email", "created_at"]


class OwnerGrantSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=150, help_text="Email of a member of the organization.")


class ProjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["id", "name", "public_id", "created_at"]


class IngestKeySerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.get_username", default=None, read_only=True)
    display = serializers.SerializerMethodField(help_text="How the key is shown: its prefix, never the secret.")

    class Meta:
        model = IngestKey
        fields = ["id", "name", "prefix", "display", "created_at", "created_by", "last_used_at", "revoked_at"]
        read_only_fields = fields

    def get_display(self, key: IngestKey) -> str:
        return f"lk_{key.prefix}_…"


class IngestKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class IngestKeyCreatedSerializer(IngestKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The secret: returned by this response only, never again.")

    class Meta(IngestKeySerializer.Meta):
        fields = [*IngestKeySerializer.Meta.fields, "key"]
        read_only_fields = fields
