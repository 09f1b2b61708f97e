"""Routes outside any organization: platform staff's organization list, the personal API token
page, and the API list of the organizations a user can see."""

from __future__ import annotations

from django.urls import path

from orgs import views
from orgs.api import views as api_views

app_name = "orgs-site"

urlpatterns = [
    path("staff/orgs/", views.staff_org_list, name="staff_org_list"),
    path("account/token/", views.api_token, name="api_token"),
    path("api/v1/orgs/", api_views.OrganizationListView.as_view(), name="api-org-list"),
]
