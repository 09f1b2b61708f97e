"""A W3C PROV-JSON document (https://www.w3.org/submissions/prov-json/) of an asset's upstream lineage.

Assets are entities, runs are activities, workloads and their owners are agents. A run `used` its
inputs, its outputs `wasGeneratedBy` it and `wasDerivedFrom` its inputs, and it
`wasAssociatedWith` its workload, which `actedOnBehalfOf` its owner.
"""

from __future__ import annotations

from catalog.models import Asset
from orgs.models import Organization

NAMESPACES = {
    "lin": "urn:lineage:",  # ids below are lin:asset/<uri>, lin:run/<run id>, lin:workload/<id>
    "prov": "http://www.w3.org/ns/prov#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


def _asset_id(record: dict) -> str:
    return f"lin:asset/{record['asset_uri']}"


def document(org: Organization, subject: Asset, records: list[dict]) -> dict:
    doc: dict = {"prefix": dict(NAMESPACES), "entity": {}, "activity": {}, "agent": {}, "used": {},
                 "wasGeneratedBy": {}, "wasDerivedFrom": {}, "wasAssociatedWith": {}, "actedOnBehalfOf": {}}
    doc["entity"][f"lin:asset/{subject.uri}"] = {"prov:label": subject.name, "lin:kind": subject.kind,
                                                 "prov:type": "lin:subject"}
    inputs_of: dict[str, set[str]] = {}
    outputs_of: dict[str, set[str]] = {}
    for r in records:
        entity, activity = _asset_id(r), f"lin:run/{r['run_id']}"
        workload = f"lin:workload/{r['workload_id']}"
        doc["entity"].setdefault(entity, {"prov:label": r["asset_name"], "lin:namespace": r["asset_namespace"],
                                          "lin:kind": r["asset_kind"], "lin:type": r["asset_type"]})
        doc["activity"].setdefault(activity, {
            "prov:label": f"{r['job_namespace']}/{r['job_name']}", "lin:state": r["run_state"],
            **({"prov:startTime": r["run_started_at"]} if r["run_started_at"] else {}),
            **({"prov:endTime": r["run_ended_at"]} if r["run_ended_at"] else {}),
        })
        doc["agent"].setdefault(workload, {"prov:type": "prov:SoftwareAgent", "prov:label": r["workload_name"],
                                           "lin:workloadType": r["workload_type"], "lin:cloud": r["cloud"]})
        doc["wasAssociatedWith"].setdefault(f"_:assoc/{r['run_id']}", {"prov:activity": activity, "prov:agent": workload})
        if r["workload_owner"]:
            person = f"lin:person/{r['workload_owner']}"
            doc["agent"].setdefault(person, {"prov:type": "prov:Person", "prov:label": r["workload_owner"]})
            doc["actedOnBehalfOf"].setdefault(f"_:delegation/{r['workload_id']}",
                                              {"prov:delegate": workload, "prov:responsible": person})
        if r["direction"] == "input":
            doc["used"][f"_:used/{r['run_id']}/{r['asset_uri']}"] = {
                "prov:activity": activity, "prov:entity": entity, "prov:time": r["last_seen_at"]}
            inputs_of.setdefault(activity, set()).add(entity)
        else:
            doc["wasGeneratedBy"][f"_:gen/{r['run_id']}/{r['asset_uri']}"] = {
                "prov:entity": entity, "prov:activity": activity, "prov:time": r["first_seen_at"]}
            outputs_of.setdefault(activity, set()).add(entity)
    for activity, outputs in outputs_of.items():
        for out in sorted(outputs):
            for used in sorted(inputs_of.get(activity, ())):
                doc["wasDerivedFrom"][f"_:der/{activity}/{out}/{used}"] = {
                    "prov:generatedEntity": out, "prov:usedEntity": used, "prov:activity": activity}
    return {k: v for k, v in doc.items() if v}
