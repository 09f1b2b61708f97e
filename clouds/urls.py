from __future__ import annotations

app_name = "clouds"

urlpatterns: list = []
