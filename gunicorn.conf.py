"""How gunicorn serves this application in production (gunicorn reads ./gunicorn.conf.py).

Threaded workers (gthread). A sync worker reports to gunicorn's arbiter only between requests, so
any request longer than `timeout` gets its worker killed mid-response: an auditor's export of a
million records streams for about a minute and would end as a broken download at 30 s. A gthread
worker's main thread keeps reporting while its threads serve; what bounds a request's work is
PostgreSQL's statement timeout (LINEAGE_WEB_STATEMENT_TIMEOUT_MS, lineage_project.statements),
which exports lift for their own statements. Threads also keep connections alive between an API
client's requests, and each thread keeps its own persistent database connection: plan for
WEB_CONCURRENCY x WEB_THREADS connections per host.

Command-line flags override these (the tests run one worker with one thread).
"""

import os

wsgi_app = "lineage_project.wsgi"
worker_class = "gthread"
# One process per core runs Python in parallel; threads cover the time requests wait on the
# database. Each thread holds a connection: 16 cores make 64, within PostgreSQL's default 100.
workers = int(os.environ.get("WEB_CONCURRENCY", max(2, os.cpu_count() or 1)))
threads = int(os.environ.get("WEB_THREADS", 4))
timeout = 30  # a worker whose main loop is stuck this long is restarted
graceful_timeout = 30
keepalive = 5
