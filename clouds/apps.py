from __future__ import annotations

from django.apps import AppConfig


class CloudsConfig(AppConfig):
    name = "clouds"
    verbose_name = "Clouds"
