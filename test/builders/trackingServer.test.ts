import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildTrackingServer, serverCommand, STARTUP_BUDGET_SECONDS } from "../../builders/trackingServer";
import { PEM, trackingServer } from "../helpers";

const options = { defaultImage: "ghcr.io/mlflow/mlflow:v3.1.1" };
const container = (children: ReturnType<typeof buildTrackingServer>) => (children.deployment.spec as any).template.spec.containers[0];

describe("TrackingServer defaults", () => {
  const children = buildTrackingServer(trackingServer({}), options);

  test("only the credentials Secret, Service and Deployment exist", () => {
    assert.equal(children.tlsSecret, undefined);
    assert.equal(children.volumeClaim, undefined);
    assert.equal(children.ingress, undefined);
    assert.deepEqual([children.credentials.kind, children.service.kind, children.deployment.kind], ["Secret", "Service", "Deployment"]);
    assert.equal(children.credentials.metadata.name, "mlflow-credentials");
  });

  test("the server runs the default image with SQLite on an emptyDir at /mlflow", () => {
    const spec = children.deployment.spec as any;
    assert.equal(spec.replicas, 1);
    assert.deepEqual(spec.strategy, { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } });
    assert.equal(container(children).image, options.defaultImage);
    assert.deepEqual(spec.template.spec.volumes, [{ name: "scratch", emptyDir: {} }]);
    assert.deepEqual(container(children).volumeMounts, [{ name: "scratch", mountPath: "/mlflow" }]);
    assert.deepEqual(children.credentials.stringData, { MLFLOW_BACKEND_STORE_URI: "sqlite:////mlflow/mlflow.db" });
  });

  test("the command is mlflow server on 0.0.0.0:5000", () => {
    assert.deepEqual(container(children).command, [
      "mlflow", "server", "--host", "0.0.0.0", "--port", "5000",
      "--backend-store-uri", "$(MLFLOW_BACKEND_STORE_URI)", "--serve-artifacts", "--artifacts-destination", "/mlflow/artifacts",
    ]);
  });

  test("the container has the default resources the README states, and a 300 s startup probe that holds the others back", () => {
    assert.deepEqual(container(children).resources, { requests: { cpu: "250m", memory: "1Gi" }, limits: { cpu: "2", memory: "2Gi" } });
    const { startupProbe, readinessProbe, livenessProbe } = container(children);
    assert.deepEqual([startupProbe.periodSeconds, startupProbe.failureThreshold], [5, 60]);
    assert.equal(STARTUP_BUDGET_SECONDS, 300);
    assert.equal(readinessProbe.initialDelaySeconds, undefined);
    assert.equal(livenessProbe.initialDelaySeconds, undefined);
  });

  test("a remote artifact_root is written by the clients unless serveArtifacts asks for serving", () => {
    const remote = serverCommand(trackingServer({ artifact_root: "s3://bucket/runs" }));
    assert.deepEqual(remote.slice(remote.indexOf("--no-serve-artifacts")), ["--no-serve-artifacts", "--default-artifact-root", "s3://bucket/runs"]);
    const served = serverCommand(trackingServer({ artifact_root: "s3://bucket/runs", serveArtifacts: true }));
    assert.deepEqual(served.slice(served.indexOf("--serve-artifacts")), ["--serve-artifacts", "--artifacts-destination", "s3://bucket/runs"]);
  });

  test("spec values in the command and env are not expanded by Kubernetes: $ is escaped", () => {
    const object = trackingServer({ artifact_root: "s3://b/$(AWS_SECRET_ACCESS_KEY)", url: "https://h.example.com/$(X)", s3_endpoint_url: "http://s3.example.com/$(MLFLOW_BACKEND_STORE_URI)" });
    const command = serverCommand(object);
    assert.ok(command.includes("s3://b/$$(AWS_SECRET_ACCESS_KEY)"), command.join(" "));
    assert.deepEqual(command.slice(-2), ["--static-prefix", "/$$(X)"]);
    const env = container(buildTrackingServer(object, options)).env.find((e: any) => e.name === "MLFLOW_S3_ENDPOINT_URL");
    assert.equal(env.value, "http://s3.example.com/$$(MLFLOW_BACKEND_STORE_URI)");
  });

  test("the Service is ClusterIP on port 5000 named server", () => {
    assert.deepEqual((children.service.spec as any).type, "ClusterIP");
    assert.deepEqual((children.service.spec as any).ports, [{ name: "server", port: 5000, targetPort: "server", protocol: "TCP" }]);
  });

  test("the server runs as user and group 1000 under the restricted Pod Security Standard, its volume in that group and HOME writable", () => {
    const pod = (children.deployment.spec as any).template.spec;
    assert.deepEqual(pod.securityContext, {
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      fsGroup: 1000,
      fsGroupChangePolicy: "OnRootMismatch",
      seccompProfile: { type: "RuntimeDefault" },
    });
    assert.deepEqual(container(children).securityContext, { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    assert.deepEqual(container(children).env.find((e: any) => e.name === "HOME"), { name: "HOME", value: "/tmp" });
  });

  test("the pod gets no service-account token: MLflow never calls the Kubernetes API", () => {
    assert.equal((children.deployment.spec as any).template.spec.automountServiceAccountToken, false);
    const full = buildTrackingServer(trackingServer({ volumeSize: "1Gi", url: "https://mlflow.example.com/team" }), options);
    assert.equal((full.deployment.spec as any).template.spec.automountServiceAccountToken, false);
  });

  test("probes hit /health with a Host header MLflow allows", () => {
    const probe = container(children).readinessProbe.httpGet;
    assert.deepEqual(probe, { path: "/health", port: "server", httpHeaders: [{ name: "Host", value: "localhost" }] });
    const allowed = container(children).env.find((e: any) => e.name === "MLFLOW_SERVER_ALLOWED_HOSTS").value.split(",");
    assert.ok(allowed.includes("localhost"));
    assert.ok(allowed.includes("mlflow.team-a.svc:*"));
  });
});

describe("TrackingServer with every field", () => {
  const spec = {
    size: 2,
    image: "registry.example.com/mlflow:2.22",
    s3_endpoint_url: "http://minio:9000",
    aws_access_key: "id",
    aws_secret_key: "s3cr3t-value",
    artifact_root: "s3://bucket/",
    backend_uri: "postgresql://mlflow:pw@db/mlflow",
    url: "https://mlflow.example.com/team-a/",
    volumeSize: "10Gi",
    storageClassName: "fast",
    ...PEM,
  };
  const children = buildTrackingServer(trackingServer(spec), { ...options, ingressClassName: "nginx" });

  test("a ReadWriteOnce claim is mounted at /mlflow and the rollout is Recreate", () => {
    assert.deepEqual(children.volumeClaim?.spec, { accessModes: ["ReadWriteOnce"], storageClassName: "fast", resources: { requests: { storage: "10Gi" } } });
    const deployment = children.deployment.spec as any;
    assert.deepEqual(deployment.strategy, { type: "Recreate" });
    assert.deepEqual(deployment.template.spec.volumes, [{ name: "data", persistentVolumeClaim: { claimName: "mlflow" } }]);
    assert.equal(deployment.replicas, 2);
    assert.equal(deployment.template.spec.securityContext.fsGroup, 1000, "the claim's files belong to the server's group");
  });

  test("the TLS Secret holds cert and key", () => {
    assert.equal(children.tlsSecret?.type, "kubernetes.io/tls");
    assert.deepEqual(children.tlsSecret?.stringData, { "tls.crt": PEM.cert, "tls.key": PEM.key });
  });

  test("the Ingress serves the URL's host and path with TLS, plus MLflow's unprefixed /api", () => {
    const ingress = children.ingress?.spec as any;
    assert.equal(ingress.ingressClassName, "nginx");
    assert.equal(ingress.rules[0].host, "mlflow.example.com");
    assert.deepEqual(ingress.rules[0].http.paths.map((p: any) => [p.path, p.pathType]), [["/team-a", "Prefix"], ["/api", "Prefix"]]);
    assert.deepEqual(ingress.tls, [{ hosts: ["mlflow.example.com"], secretName: "mlflow" }]);
  });

  test("the server runs under the URL path, its clients write to the remote artifact_root; probes go to the UI page there", () => {
    const command = serverCommand(trackingServer(spec));
    assert.deepEqual(command.slice(command.indexOf("--no-serve-artifacts"), -2), ["--no-serve-artifacts", "--default-artifact-root", "s3://bucket/"]);
    assert.deepEqual(command.slice(command.indexOf("--static-prefix")), ["--static-prefix", "/team-a"]);
    assert.equal(container(children).readinessProbe.httpGet.path, "/team-a/", "the UI page: /health moved under the prefix in MLflow 3.7");
  });

  test("resources in the spec replace the defaults", () => {
    const resources = { requests: { cpu: "1", memory: "4Gi" }, limits: { memory: "8Gi" } };
    assert.deepEqual(container(buildTrackingServer(trackingServer({ ...spec, resources }), options)).resources, resources);
  });

  test("secrets reach the container only through secretKeyRef", () => {
    const env = container(children).env as any[];
    const byName = Object.fromEntries(env.map((e) => [e.name, e]));
    for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_BACKEND_STORE_URI"]) {
      assert.deepEqual(byName[name], { name, valueFrom: { secretKeyRef: { name: "mlflow-credentials", key: name } } });
    }
    assert.equal(byName.MLFLOW_S3_ENDPOINT_URL.value, "http://minio:9000");
    const text = JSON.stringify(children.deployment);
    for (const secret of ["s3cr3t-value", "pw@db", "PRIVATE KEY"]) assert.ok(!text.includes(secret), `${secret} in the Deployment`);
  });
});

describe("TrackingServer Ingress variants", () => {
  test("a URL at the root gets one path and no static prefix", () => {
    const object = trackingServer({ url: "http://mlflow.example.com" });
    const children = buildTrackingServer(object, options);
    assert.deepEqual((children.ingress?.spec as any).rules[0].http.paths.map((p: any) => p.path), ["/"]);
    assert.equal((children.ingress?.spec as any).tls, undefined);
    assert.ok(!serverCommand(object).includes("--static-prefix"));
  });

  test("a TLS Secret already in the namespace turns on TLS", () => {
    const children = buildTrackingServer(trackingServer({ url: "https://mlflow.example.com" }), { ...options, existingTlsSecret: true });
    assert.deepEqual((children.ingress?.spec as any).tls, [{ hosts: ["mlflow.example.com"], secretName: "mlflow" }]);
    assert.equal(children.tlsSecret, undefined);
  });
});

describe("TrackingServer as the original controller made it", () => {
  test("pods carry and are selected by the original labels, app: trackingserver and ts_name", () => {
    const children = buildTrackingServer(trackingServer({}), options);
    const selector = { app: "trackingserver", ts_name: "mlflow" };
    assert.deepEqual((children.deployment.spec as any).selector, { matchLabels: selector });
    assert.deepEqual((children.service.spec as any).selector, selector);
    const labels = (children.deployment.spec as any).template.metadata.labels;
    assert.deepEqual({ app: labels.app, ts_name: labels.ts_name }, selector);
    assert.equal(labels["app.kubernetes.io/managed-by"], "crdstack");
  });

  test("volumeSize alone makes a claim of the cluster's default StorageClass", () => {
    const children = buildTrackingServer(trackingServer({ volumeSize: "5Gi" }), options);
    assert.deepEqual(children.volumeClaim?.spec, { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "5Gi" } } });
    assert.equal((children.deployment.spec as any).strategy.type, "Recreate");
  });
});
