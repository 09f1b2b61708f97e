from __future__ import annotations

from rest_framework import serializers

from catalog.models import Asset, Job, Run, Workload


class AssetSerializer(serializers.ModelSerializer):
    facets = serializers.JSONField(read_only=True)
    cloud = serializers.CharField(source="cloud.name", default=None)
    project = serializers.CharField(source="project.name", default=None)

    class Meta:
        model = Asset
        fields = ["id", "kind", "namespace", "name", "uri", "dataset_type", "cloud", "project", "created_by",
                  "created_at", "updated_at", "facets"]


class WorkloadSerializer(serializers.ModelSerializer):
    cloud = serializers.CharField(source="cloud.name")
    project = serializers.CharField(source="project.name", default=None)
    details = serializers.JSONField(read_only=True)

    class Meta:
        model = Workload
        fields = ["id", "external_id", "kind", "name", "status", "owner_email", "derived", "cloud", "project",
                  "created_at", "updated_at", "details"]


class JobSerializer(serializers.ModelSerializer):
    class Meta:
        model = Job
        fields = ["id", "namespace", "name", "job_type", "integration"]


class RunSerializer(serializers.ModelSerializer):
    job = JobSerializer()
    workload = serializers.IntegerField(source="workload_id")
    facets = serializers.JSONField(read_only=True)

    class Meta:
        model = Run
        fields = ["id", "run_id", "job", "workload", "state", "started_at", "ended_at", "parent_run_id",
                  "error_message", "created_at", "updated_at", "facets"]
