"""Workload-side OpenLineage plugins for Ray Data and MLflow.

Nothing here is imported by the lineage server. A workload gets lineage by
installing this package (``pip install 'lineage-plugins[ray,mlflow]'``) and
setting environment variables; see README.md.
"""

__version__ = "0.1.0"

PACKAGE_NAME = "lineage-plugins"

# ``_producer`` / ``producer`` URI of every event and facet we build: a package
# URL (purl) naming this package and its version.
PRODUCER = f"pkg:pypi/{PACKAGE_NAME}@{__version__}"

# Tested ranges: inside them nothing is logged; outside them the plugins log a
# clear warning once and keep going where the internal APIs they use are still
# there (checked structurally at load).
RAY_TESTED_RANGE = ((2, 60), (2, 61))  # >=2.60,<2.61 (tested: 2.60.0)
MLFLOW_TESTED_RANGE = ((3, 17), (3, 18))  # >=3.17,<3.18 (tested: 3.17.2)
