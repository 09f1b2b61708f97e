from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from lineage_project.statements import limit_web_statements

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lineage_project.settings")
application = get_wsgi_application()

# Only the web server loads this module: its statements are bounded, workers' are not.
limit_web_statements()
