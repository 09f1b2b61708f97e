#!/usr/bin/env bash
# Run the example pipeline (train_and_serve.py) with the lineage plugins, as three workloads:
# a feature job (Ray Data), a training job (Ray Data + MLflow) and a scoring service (MLflow).
#
#   OPENLINEAGE_API_KEY=<ingest key of acme-prod> plugins/examples/quickstart.sh
#
# Settings (environment):
#   OPENLINEAGE_URL      the lineage server (default http://127.0.0.1:8000, what `make run` serves)
#   OPENLINEAGE_API_KEY  an ingest key of the cloud the workloads run on (required)
#   LINEAGE_CLOUD_ID     that cloud's public id (optional; when set, the server checks it matches the key)
#   DATA_DIR             where the datasets go (default /mnt/shared_storage/lineage-example: the server
#                        only catalogs local paths under /mnt/shared_storage and /mnt/cluster_storage)
#   WORK_DIR             the MLflow store (SQLite) and the model artifacts (default: a new temp directory)
#   MLFLOW_TRACKING_URI  another MLflow store or tracking server, if you like (default sqlite:///$WORK_DIR/mlflow.db)
#   PYTHON               the Python with the plugins installed (default plugins/.venv/bin/python)
#   LINEAGE_OWNER_EMAIL  the workloads' owner (default member@acme.test, the demo user)
#   ORG                  the organization's slug, for the link printed at the end (default acme)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-$HERE/../.venv/bin/python}"
if [ ! -x "$PYTHON" ]; then
    echo "No $PYTHON: install the plugins first with \`make -C plugins install\`." >&2
    exit 1
fi
: "${OPENLINEAGE_API_KEY:?set OPENLINEAGE_API_KEY to an ingest key (load_demo prints one for acme-prod)}"

DATA_DIR="${DATA_DIR:-/mnt/shared_storage/lineage-example}"
if ! mkdir -p "$DATA_DIR" 2>/dev/null || [ ! -w "$DATA_DIR" ]; then
    echo "Cannot write $DATA_DIR. Create the mount point once, e.g.:" >&2
    echo "  sudo mkdir -p /mnt/shared_storage && sudo chown \"\$USER\" /mnt/shared_storage" >&2
    exit 1
fi
WORK_DIR="${WORK_DIR:-$(mktemp -d -t lineage-example.XXXXXX)}"
mkdir -p "$WORK_DIR"
cd "$WORK_DIR"

# Where events go and how to authenticate: the OpenLineage client's own settings.
export OPENLINEAGE_URL="${OPENLINEAGE_URL:-http://127.0.0.1:8000}"
export OPENLINEAGE_API_KEY
# Ray Data loads the plugin's execution callback through its own setting.
export RAY_DATA_EXECUTION_CALLBACKS=lineage_plugins.ray_data.LineageExecutionCallback
# MLflow finds the plugin's store and artifact wrappers through entry points: nothing to set.
export MLFLOW_TRACKING_URI="${MLFLOW_TRACKING_URI:-sqlite:///$WORK_DIR/mlflow.db}"
# What the platform sets for every workload: who it is and when its cluster started. Lineage is
# captured when the cloud's lineage toggle was on at the cluster's start.
export LINEAGE_CLUSTER_STARTED_AT="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
# The owner becomes the assets' "Created by"; the catalog pages list "Created by: me" by default, so
# the demo user you sign in as is the owner here.
export LINEAGE_OWNER_EMAIL="${LINEAGE_OWNER_EMAIL:-member@acme.test}"
export LINEAGE_CLOUD_ID="${LINEAGE_CLOUD_ID:-}"

echo "lineage server: $OPENLINEAGE_URL"
echo "data:           $DATA_DIR"
echo "mlflow:         $MLFLOW_TRACKING_URI (logs of each step in $WORK_DIR)"
run() {  # run <workload id> <name> <type> <step args...>
    local wid="$1" name="$2" kind="$3" step="$4"
    shift 3
    echo "== $kind $wid: python train_and_serve.py $*"
    if ! LINEAGE_WORKLOAD_ID="$wid" LINEAGE_WORKLOAD_NAME="$name" LINEAGE_WORKLOAD_TYPE="$kind" \
            LINEAGE_CLUSTER_ID="ses_$wid" "$PYTHON" "$HERE/train_and_serve.py" "$@" \
            >"$WORK_DIR/$step.json" 2>"$WORK_DIR/$step.log"; then
        tail -n 30 "$WORK_DIR/$step.log" >&2
        exit 1
    fi
    # The plugins never fail the workload; they log a warning instead (e.g. a wrong key: 403).
    grep "lineage:" "$WORK_DIR/$step.log" >&2 || true
    tail -n 1 "$WORK_DIR/$step.json"
}

run prodjob_quickstart_features quickstart-features job features "$DATA_DIR"
run prodjob_quickstart_train quickstart-train job train "$DATA_DIR" --model fraud-detector
VERSION="$("$PYTHON" -c 'import json, sys; print(json.loads(open(sys.argv[1]).readlines()[-1])["version"])' \
    "$WORK_DIR/train.json")"
run service_quickstart_scoring quickstart-scoring service serve --model fraud-detector --version "$VERSION"

echo "Done. Models page: ${OPENLINEAGE_URL%/}/o/${ORG:-acme}/models/ (fraud-detector v$VERSION; its Lineage tab shows"
echo "the features it was trained on, the CSV and images they came from, and the scoring service that loads it)."
