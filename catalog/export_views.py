"""The Exports page and API: auditors and org admins download exports (catalog.exports), each audited."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.views import APIView

from catalog.exports import KINDS, ExportRequest, Filters, stream_export
from catalog.models import Asset
from clouds.models import Cloud, Project
from orgs.models import AuditEntry, Organization
from orgs.pages import org_view
from orgs.permissions import Action, authorize, request_id_of, resolve_org
from orgs.services import record

KIND_LABELS = {
    "lineage": "Lineage records (one row per workload-asset relationship)",
    "raw": "Raw OpenLineage events, exactly as received (NDJSON, replayable)",
    "catalog": "Catalog tables (datasets, models, workloads) as CSV",
    "evidence": "Evidence pack for one model or dataset (upstream lineage, raw events, governance, PROV)",
}


class ExportForm(forms.Form):
    kind = forms.ChoiceField(choices=[(k, KIND_LABELS[k]) for k in KINDS], widget=forms.RadioSelect, initial="lineage")
    format = forms.ChoiceField(choices=[("csv", "CSV"), ("jsonl", "JSON Lines")], initial="csv", required=False)
    asset = forms.IntegerField(required=False, help_text="The model or dataset an evidence pack is about")
    cloud = forms.ModelChoiceField(queryset=Cloud.objects.none(), required=False, empty_label="All clouds")
    project = forms.ModelChoiceField(queryset=Project.objects.none(), required=False, empty_label="All projects")
    created_by = forms.CharField(required=False, max_length=254, label="Created by (email)")
    workload = forms.IntegerField(required=False)
    since = forms.DateTimeField(required=False, label="From", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = forms.DateTimeField(required=False, label="Until", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def __init__(self, *args, org: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.org = org
        # Choices are scoped: the dropdowns never list another organization's clouds or projects.
        self.fields["cloud"].queryset = Cloud.objects.in_org(org)
        self.fields["project"].queryset = Project.objects.in_org(org).select_related("cloud")

    def clean(self):
        data = super().clean()
        if data.get("kind") == "evidence":
            asset = Asset.objects.in_org(self.org).filter(pk=data.get("asset")).first() if data.get("asset") else None
            if asset is None:
                raise forms.ValidationError({"asset": "Choose a model or dataset of this organization."})
            data["asset_obj"] = asset
        return data

    def request_for(self, org: Organization, user, request_id: str) -> ExportRequest:
        d = self.cleaned_data
        filters = Filters(
            cloud=d["cloud"].pk if d.get("cloud") else None, project=d["project"].pk if d.get("project") else None,
            created_by=d.get("created_by") or "", asset=d.get("asset") if d["kind"] != "evidence" else None,
            workload=d.get("workload"), since=d.get("since"), until=d.get("until"),
        )
        return ExportRequest(org=org, kind=d["kind"], actor_label=user.get_username(), filters=filters,
                             fmt=d.get("format") or "csv", asset=d.get("asset_obj"), request_id=request_id)


def start_export(request, org: Organization, form: ExportForm) -> StreamingHttpResponse:
    """Audit the export, then stream it. The entry is written before the first byte, with the
    export id the manifest carries, so every download is on record even if it is interrupted."""
    req = form.request_for(org, request.user, request_id_of(request))
    record(org=org, actor=request.user, action=Action.EXPORT, target_type="export", target_id=req.export_id,
           target_label=req.kind, request_id=req.request_id,
           after={"filters": req.filters.as_dict(), "format": req.fmt, **({"asset": req.asset.uri} if req.asset else {})})
    response = StreamingHttpResponse(stream_export(req), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{req.filename()}"'
    response["X-Export-Id"] = req.export_id
    return response


def recent_exports(org: Organization):
    return AuditEntry.objects.filter(org=org, action=Action.EXPORT, allowed=True).order_by("-created_at", "-id")[:20]


@org_view(Action.EXPORT)
def exports_page(request: HttpRequest, org: Organization) -> HttpResponse:
    # Reading the page is part of exporting: a member is refused (and the attempt recorded) here too.
    authorize(request, Action.EXPORT, org, attempt={"page": "exports", "method": request.method})
    initial = {k: request.GET[k] for k in ("kind", "asset") if k in request.GET}
    form = ExportForm(request.POST or None, org=org, initial=initial)
    if request.method == "POST" and form.is_valid():
        return start_export(request, org, form)
    subject = None
    if initial.get("asset", "").isdigit():
        subject = Asset.objects.in_org(org).filter(pk=int(initial["asset"])).first()
    return render(request, "exports/exports.html", {
        "org": org, "section": "exports", "form": form, "subject": subject, "recent": recent_exports(org),
        "kind_labels": KIND_LABELS,
    }, status=400 if request.method == "POST" else 200)


class ExportAPIView(APIView):
    """POST /api/v1/o/<org>/exports/ with {kind, format, asset, cloud, project, created_by, workload,
    since, until} answers the export zip (application/zip), streamed."""

    class InputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=KINDS)
        format = serializers.ChoiceField(choices=["csv", "jsonl"], default="csv")
        asset = serializers.IntegerField(required=False)
        cloud = serializers.IntegerField(required=False)
        project = serializers.IntegerField(required=False)
        created_by = serializers.CharField(required=False, max_length=254)
        workload = serializers.IntegerField(required=False)
        since = serializers.DateTimeField(required=False)
        until = serializers.DateTimeField(required=False)

    serializer_class = InputSerializer

    def post(self, request: Request, org_slug: str):
        org = resolve_org(request, org_slug, action=Action.EXPORT)
        authorize(request, Action.EXPORT, org, attempt=dict(request.data) if isinstance(request.data, dict) else None)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        form = ExportForm({k: v for k, v in data.validated_data.items() if v is not None}, org=org)
        if not form.is_valid():
            raise ValidationError(form.errors.get_json_data())
        return start_export(request, org, form)
