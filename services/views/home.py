"""The home page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from services.selectors import service_catalogue


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "services/home.html", {"catalogue": service_catalogue()})
