// Synthetic specs for the benchmark: N TrackingServers with every optional child, N EasyServices.
import * as fs from "node:fs";
import * as path from "node:path";
import { dump } from "js-yaml";
import { formatError } from "../model/specs";
import { loadSpecFiles } from "../sources/files";
import { PEM } from "../test/helpers";

/**
 * Writes the specs, in 50 namespaces `<prefix>-<i>`; `storageClassName` names the class of their claims
 * (the test cluster provisions `standard`).
 */
export function writeSpecs(folder: string, count: number, storageClassName = "fast", prefix = "team"): void {
  fs.mkdirSync(folder, { recursive: true });
  const documents: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const namespace = `${prefix}-${i % 50}`;
    documents.push({
      apiVersion: "experiment.aiscope/v1alpha2",
      kind: "TrackingServer",
      metadata: { name: `mlflow-${i}`, namespace },
      spec: {
        size: 1, s3_endpoint_url: "http://minio:9000", aws_access_key: `key-${i}`, aws_secret_key: `secret-${i}`,
        artifact_root: `s3://bucket-${i}/`, url: `https://mlflow-${i}.example.com/ui`, volumeSize: "10Gi", storageClassName,
        cert: PEM.cert, key: PEM.key,
      },
    });
    documents.push({
      apiVersion: "app.kubebuilder.io/v1",
      kind: "EasyService",
      metadata: { name: `web-${i}`, namespace },
      spec: {
        size: 2, image: "nginx:1.25", resources: { requests: { cpu: "100m" }, limits: { cpu: "1" } },
        envs: [{ name: "MODE", value: "bench" }], ports: [{ name: "http", port: 80, targetPort: 8080 }],
      },
    });
  }
  fs.writeFileSync(path.join(folder, "specs.yaml"), documents.map((d) => dump(d)).join("---\n"));
  // A spec the program refuses would be measured as an object with nothing to declare.
  const { errors } = loadSpecFiles([folder]);
  if (errors.length > 0) throw new Error(`bench specs are invalid:\n${errors.slice(0, 5).map(formatError).join("\n")}`);
}
