# An MLflow user's client: logs a run with a parameter, a metric and an artifact to MLFLOW_TRACKING_URI,
# then reads them back through the server and prints what it read as JSON.
import json
import os
import sys
import tempfile

import mlflow
from mlflow.tracking import MlflowClient

content = sys.argv[1]
mlflow.set_experiment("crdstack-check")
with tempfile.TemporaryDirectory() as folder:
    written = os.path.join(folder, "notes.txt")
    with open(written, "w") as f:
        f.write(content)
    with mlflow.start_run() as run:
        mlflow.log_param("alpha", "0.5")
        mlflow.log_metric("loss", 0.25)
        mlflow.log_artifact(written)

found = MlflowClient().get_run(run.info.run_id)
with tempfile.TemporaryDirectory() as folder:
    local = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="notes.txt", dst_path=folder)
    with open(local) as f:
        read_back = f.read()
print(json.dumps({
    "experiment_id": found.info.experiment_id,
    "run_id": found.info.run_id,
    "artifact_uri": found.info.artifact_uri,
    "params": found.data.params,
    "metrics": found.data.metrics,
    "artifact": read_back,
}))
