from django.urls import path

from incidents import audit_views, views

app_name = "incidents"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("incidents/declare/", views.declare, name="declare"),
    path("incidents/declare/paging/", views.paging_check, name="paging-check"),
    path("incidents/<int:number>/", views.detail, name="detail"),
    path("incidents/<int:number>/timeline/", views.timeline_poll, name="timeline"),
    path("incidents/<int:number>/verify/", audit_views.record, name="verify"),
    path("incidents/<int:number>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("incidents/<int:number>/transition/", views.transition, name="transition"),
    path("incidents/<int:number>/severity/", views.severity, name="severity"),
    path("incidents/<int:number>/roles/", views.roles, name="roles"),
    path("incidents/<int:number>/notes/", views.note, name="note"),
    path("incidents/<int:number>/updates/", views.update, name="update"),
    path("incidents/<int:number>/handover/", views.handover, name="handover"),
    path("incidents/<int:number>/details/", views.details, name="details"),
    path("incidents/<int:number>/milestones/", views.milestones, name="milestones"),
    path("incidents/<int:number>/merge/", views.merge, name="merge"),
    path("incidents/<int:number>/restrict/", views.restrict, name="restrict"),
    path("incidents/<int:number>/grant/", views.grant, name="grant"),
    path("incidents/<int:number>/escalate/", views.escalate, name="escalate"),
    # The auditor's pages: the audit log, and each incident's evidence bundle.
    path("audit/", audit_views.log, name="audit-log"),
    path("audit/export.csv", audit_views.export, {"fmt": "csv"}, name="audit-export-csv"),
    path("audit/export.jsonl", audit_views.export, {"fmt": "jsonl"}, name="audit-export-jsonl"),
    path("incidents/<int:number>/evidence.json", audit_views.evidence_json, name="evidence-json"),
    path("incidents/<int:number>/evidence/", audit_views.evidence_page, name="evidence"),
]
