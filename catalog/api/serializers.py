from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from catalog import graph
from catalog.models import Asset, Job, Run, SchemaVersion, Workload


class AssetSerializer(serializers.ModelSerializer):
    facets = serializers.JSONField(read_only=True)
    cloud = serializers.CharField(source="cloud.name", default=None)
    project = serializers.CharField(source="project.name", default=None)
    mlflow = serializers.SerializerMethodField(help_text="Model facts from the mlflowModel facet (models only).")

    class Meta:
        model = Asset
        fields = ["id", "kind", "namespace", "name", "uri", "dataset_type", "cloud", "project", "created_by",
                  "created_at", "updated_at", "mlflow", "facets"]

    def get_mlflow(self, obj: Asset) -> dict | None:
        facet = obj.facets.get("mlflowModel")
        if not isinstance(facet, dict):
            return None
        keys = ("modelId", "flavor", "registeredName", "registeredVersion", "modelUri", "runId", "experimentId")
        return {k: facet.get(k) for k in keys}


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


class SchemaVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = SchemaVersion
        fields = ["id", "fields_hash", "fields", "first_seen_at"]


# --- Graph and impact ------------------------------------------------------------------------------


class NodeField(serializers.CharField):
    def to_internal_value(self, data):
        try:
            return graph.parse_node(super().to_internal_value(data))
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None


class GraphQuerySerializer(serializers.Serializer):
    node = NodeField(help_text="Focus node: asset:<id> or workload:<id>.")
    direction = serializers.ChoiceField(choices=graph.DIRECTIONS, default=graph.BOTH)
    depth = serializers.IntegerField(min_value=1, max_value=graph.MAX_DEPTH, default=1)
    as_of = serializers.DateTimeField(required=False, allow_null=True,
                                      help_text="Lineage as known then: edges first seen later are left out.")
    limit = serializers.IntegerField(min_value=1, max_value=graph.GRAPH_MAX_LIMIT, default=graph.GRAPH_DEFAULT_LIMIT,
                                     help_text="Most nodes returned (the focus included).")
    per_node = serializers.IntegerField(min_value=1, max_value=graph.PER_NODE_MAX, default=graph.PER_NODE_DEFAULT,
                                        help_text="Most neighbours shown per node; the rest are counted.")
    offset = serializers.IntegerField(min_value=0, default=0,
                                      help_text="Skip this many of the focus node's neighbours (the 'N more' pages).")


class GraphNodeSerializer(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.ChoiceField(choices=[graph.ASSET, graph.WORKLOAD])
    kind = serializers.CharField()
    name = serializers.CharField()
    label = serializers.CharField(help_text="Display name: a registered model's name and version, else the name.")
    uri = serializers.CharField()
    subtitle = serializers.CharField(help_text="Dataset type, or workload status.")
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    url = serializers.CharField(help_text="The node's page.")
    hop = serializers.IntegerField(help_text="Distance from the focus: negative upstream, positive downstream.")
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Neighbours upstream and downstream.")


class GraphEdgeSerializer(serializers.Serializer):
    source = serializers.CharField()
    target = serializers.CharField()
    first_seen_at = serializers.DateTimeField()


class GraphSerializer(serializers.Serializer):
    focus = serializers.CharField()
    direction = serializers.CharField()
    depth = serializers.IntegerField()
    as_of = serializers.DateTimeField(allow_null=True)
    limit = serializers.IntegerField()
    per_node = serializers.IntegerField()
    offset = serializers.IntegerField()
    nodes = GraphNodeSerializer(many=True)
    edges = GraphEdgeSerializer(many=True)
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Nodes found upstream and downstream.")
    truncated = serializers.BooleanField(help_text="A limit cut the graph short (see each node's counts).")

    def to_representation(self, instance: dict) -> dict:
        """What the fields above make of graph.graph()'s answer, without a field object per value:
        it is plain data already (str, int, bool, dicts of ints) except its datetimes, and a
        150-node answer spent ~1 ms in DRF's field machinery. tests/catalog/test_graph.py holds it
        to the generic representation."""
        # One field for the answer, its time zone read once (DRF reads it per value: ~8 us each).
        when = serializers.DateTimeField(default_timezone=timezone.get_current_timezone()).to_representation
        return {**instance,
                "as_of": when(instance["as_of"]),
                "nodes": [{**n, "created_at": when(n["created_at"])} for n in instance["nodes"]],
                "edges": [{**e, "first_seen_at": when(e["first_seen_at"])} for e in instance["edges"]]}


class ImpactQuerySerializer(serializers.Serializer):
    node = NodeField(help_text="Start node: asset:<id> or workload:<id>.")
    direction = serializers.ChoiceField(choices=[graph.DOWNSTREAM, graph.UPSTREAM], default=graph.DOWNSTREAM,
                                        help_text="downstream: impact; upstream: root cause.")
    depth = serializers.IntegerField(min_value=1, max_value=graph.MAX_DEPTH, default=3)
    as_of = serializers.DateTimeField(required=False, allow_null=True)
    limit = serializers.IntegerField(min_value=1, max_value=graph.IMPACT_MAX_LIMIT, default=graph.IMPACT_DEFAULT_LIMIT)
    kind = serializers.ChoiceField(choices=graph.IMPACT_KINDS, required=False, allow_blank=True)
    q = serializers.CharField(required=False, allow_blank=True, max_length=200, help_text="Name or URI contains.")


class ImpactRowSerializer(serializers.Serializer):
    hop = serializers.IntegerField()
    type = serializers.CharField()
    id = serializers.IntegerField()
    kind = serializers.CharField()
    name = serializers.CharField()
    uri = serializers.CharField()
    status = serializers.CharField()
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    url = serializers.CharField()
