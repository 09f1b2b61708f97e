from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from orgs.models import Organization


def home(request: HttpRequest) -> HttpResponse:
    orgs = Organization.objects.for_user(request.user).distinct() if request.user.is_authenticated else []
    return render(request, "home.html", {"orgs": orgs})


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
