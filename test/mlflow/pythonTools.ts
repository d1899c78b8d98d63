// The Python programs the MLflow test runs, from `scripts/python-tools.sh` (the cache, or an install
// from PyPI): found once per process.
import { scriptExports } from "../cluster/toolchain";

export interface PythonTools {
  /** A virtual environment with what the default MLflow image holds: MLflow, nothing else. */
  mlflow: string;
  /** A folder for PYTHONPATH with boto3: what an image adds to that one for S3 artifact stores. */
  s3Client: string;
  /** A virtual environment with moto's S3 server. */
  moto: string;
  /** A virtual environment with a current MLflow, which has the Host check 3.1.1 lacks. */
  mlflowCurrent: string;
}

let tools: PythonTools | undefined;

export function usePythonTools(): PythonTools {
  if (tools !== undefined) return tools;
  const values = scriptExports(
    "python-tools.sh",
    "The MLflow test's Python programs are missing and could not be installed: run `bash scripts/python-tools.sh` and read its " +
      "last lines (it needs Python 3.11 or later with venv, and PyPI), see README, \"The toolchain\".",
  );
  tools = { mlflow: values.CRDSTACK_MLFLOW_ENV, s3Client: values.CRDSTACK_S3_CLIENT, moto: values.CRDSTACK_MOTO_ENV, mlflowCurrent: values.CRDSTACK_MLFLOW_CURRENT_ENV };
  return tools;
}
