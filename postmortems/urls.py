from django.urls import path

from postmortems import views

app_name = "postmortems"
urlpatterns = [
    path("postmortems/", views.postmortem_list, name="list"),
    path("incidents/<int:number>/postmortem/panel/", views.incident_panel, name="incident-panel"),
    path("incidents/<int:number>/postmortem/start/", views.start, name="start"),
    path("incidents/<int:number>/postmortem/", views.postmortem_page, name="page"),
    path("incidents/<int:number>/postmortem/level/", views.set_level, name="level"),
    path("incidents/<int:number>/postmortem/edit/", views.edit, name="edit"),
    path("incidents/<int:number>/postmortem/redraft/", views.redraft, name="redraft"),
    path("incidents/<int:number>/postmortem/submit/", views.submit, name="submit"),
    path("incidents/<int:number>/postmortem/review/", views.review, name="review"),
    path("incidents/<int:number>/postmortem/publish/", views.publish, name="publish"),
    path("incidents/<int:number>/postmortem/correct/", views.correct, name="correct"),
    path("incidents/<int:number>/postmortem/revisions/<int:k>/", views.revision,
         name="revision"),
    path("incidents/<int:number>/postmortem.md", views.markdown_download, name="markdown"),
    path("incidents/<int:number>/postmortem/print/", views.print_page, name="print"),
]
