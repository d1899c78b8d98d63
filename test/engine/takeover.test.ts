// Moving from the Go controllers under the real engine: a cluster as the original controllers leave it
// (their CRDs, custom resources with their finalizer and annotation, the children they made, a claim
// holding a file) is taken over by the program with the cluster source, and nothing that runs or is stored is lost.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { STORAGE_CLASS } from "../cluster/controlPlane";
import { Cluster, eventually, freshNamespace, KubeObject, pathOf, readObject, useCluster } from "../cluster/cluster";
import { crdManifests } from "../../model/crd";
import { ORIGINAL_FINALIZER } from "../../model/takeover";
import { newStack, PulumiStack } from "./pulumi";
import { settle } from "./settle";

const NS = "legacy";
/** The name the original controllers' binary gives its requests (controller-runtime's default user agent). */
const ORIGINAL_MANAGER = "manager";

/**
 * The original CRDs as their `make install` leaves them: the TrackingServer's as aiscope generated it
 * (every spec field a required string but `size`), the EasyService's reduced to its spec's shape.
 */
function originalCrds(): KubeObject[] {
  const strings = ["image", "s3_endpoint_url", "aws_access_key", "aws_secret_key", "artifact_root", "backend_uri", "url", "volumeSize", "storageClassName", "cert", "key"];
  const trackingServer = {
    type: "object",
    properties: { size: { type: "integer", format: "int32" }, ...Object.fromEntries(strings.map((field) => [field, { type: "string" }])) },
    required: ["size", ...strings],
  };
  const easyService = { type: "object", "x-kubernetes-preserve-unknown-fields": true };
  const crd = (group: string, kind: string, plural: string, version: string, spec: object): KubeObject => ({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.${group}`, annotations: { "controller-gen.kubebuilder.io/version": "v0.7.0" } },
    spec: {
      group,
      scope: "Namespaced",
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() },
      versions: [{
        name: version,
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: { openAPIV3Schema: { type: "object", properties: { apiVersion: { type: "string" }, kind: { type: "string" }, metadata: { type: "object" }, spec, status: { type: "object" } } } },
      }],
    },
  });
  return [
    crd("experiment.aiscope", "TrackingServer", "trackingservers", "v1alpha2", trackingServer),
    crd("app.kubebuilder.io", "EasyService", "easyservices", "v1", easyService),
  ];
}

let c: Cluster;
let stack: PulumiStack;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "crdstack-legacy-volume-"));

/** Creates an object as the original controllers do: a plain create under their field manager. */
const createAsOriginal = (object: KubeObject, collection = pathOf(object, false)): Promise<KubeObject> => c.request("POST", `${collection}?fieldManager=${ORIGINAL_MANAGER}`, object);
const get = (apiVersion: string, kind: string, name: string, namespace: string | undefined = NS) => readObject(c, { apiVersion, kind, metadata: { name, namespace } });
const must = async (apiVersion: string, kind: string, name: string, namespace?: string) => {
  const object = await get(apiVersion, kind, name, namespace);
  assert.ok(object, `${kind} ${name} exists`);
  return object;
};

/**
 * Puts the original CRDs in place as `make install` leaves them: their schemas, set by kubectl's
 * client-side apply. The CRDs other test files installed are changed in place, not deleted: deleting a
 * CRD deletes every object of its kind in the shared test cluster (and waits for their finalizers).
 */
async function installOriginalCrds(crds: readonly KubeObject[]): Promise<void> {
  for (const crd of crds) {
    const current = await readObject(c, crd);
    if (current === undefined) {
      await c.request("POST", `${pathOf(crd, false)}?fieldManager=kubectl-client-side-apply`, crd);
      continue;
    }
    // Nobody owns a field any more; the update below makes kubectl the owner of every field it changes.
    await c.request("PATCH", pathOf(crd), { metadata: { managedFields: [{}] } }, "application/merge-patch+json");
    const fresh = (await readObject(c, crd))!;
    await c.request("PUT", `${pathOf(crd)}?fieldManager=kubectl-client-side-apply`, { ...crd, metadata: { ...crd.metadata, resourceVersion: fresh.metadata.resourceVersion } });
  }
  for (const crd of crds) {
    await eventually(`${crd.metadata.name} established`, async () =>
      (await readObject(c, crd))?.status?.conditions?.some((cond: any) => cond.type === "Established" && cond.status === "True") ? true : undefined);
  }
}

const ownedBy = (owner: KubeObject) => [{ apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true }];
const legacyLabels = { app: "trackingserver", ts_name: "mlflow" };
const env = (values: Record<string, string>) => Object.entries(values).map(([name, value]) => ({ name, ...(value === "" ? {} : { value }) }));

/** The cluster as the originals leave it; returns what must survive the switch. */
async function buildLegacyCluster() {
  await installOriginalCrds(originalCrds());
  const server = await createAsOriginal({
    apiVersion: "experiment.aiscope/v1alpha2",
    kind: "TrackingServer",
    metadata: { name: "mlflow", namespace: NS, finalizers: [ORIGINAL_FINALIZER] },
    spec: {
      size: 1, image: "ghcr.io/mlflow/mlflow:v3.1.1", s3_endpoint_url: "", aws_access_key: "AKIALEGACY0000001", aws_secret_key: "legacy-secret-value",
      artifact_root: "", backend_uri: "", url: "https://legacy.example.com/team", volumeSize: "1Gi", storageClassName: "", cert: "", key: "",
    },
  });
  const web = await createAsOriginal({
    apiVersion: "app.kubebuilder.io/v1",
    kind: "EasyService",
    metadata: { name: "web", namespace: NS, annotations: { spec: JSON.stringify({ size: 1, image: "nginx:1.25", ports: [{ port: 80, targetPort: 80 }] }) } },
    spec: { size: 1, image: "nginx:1.25", ports: [{ port: 80, targetPort: 80 }] },
  });
  // A claim bound to a volume that holds the server's database.
  fs.writeFileSync(path.join(dataDir, "mlflow.db"), "runs of the legacy server");
  await createAsOriginal({
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name: "legacy-mlflow" },
    spec: { capacity: { storage: "1Gi" }, accessModes: ["ReadWriteOnce"], storageClassName: "legacy-disk", persistentVolumeReclaimPolicy: "Retain", hostPath: { path: dataDir } },
  }, "/api/v1/persistentvolumes");
  await createAsOriginal({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "mlflow", namespace: NS, labels: legacyLabels, ownerReferences: ownedBy(server) },
    spec: { accessModes: ["ReadWriteOnce"], storageClassName: "legacy-disk", volumeName: "legacy-mlflow", resources: { requests: { storage: "1Gi" } } },
  });
  await createAsOriginal({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "mlflow", namespace: NS, ownerReferences: ownedBy(server) },
    spec: {
      replicas: 1,
      selector: { matchLabels: legacyLabels },
      template: {
        metadata: { labels: legacyLabels },
        spec: {
          containers: [{
            name: "mlflow", image: "ghcr.io/mlflow/mlflow:v3.1.1", imagePullPolicy: "IfNotPresent", ports: [{ containerPort: 5000, name: "server" }],
            env: env({ MLFLOW_TRACKING_URI: "https://legacy.example.com/team", MLFLOW_S3_ENDPOINT_URL: "", AWS_ACCESS_KEY_ID: "AKIALEGACY0000001", AWS_SECRET_ACCESS_KEY: "legacy-secret-value", ARTIFACT_ROOT: "", BACKEND_URI: "" }),
            volumeMounts: [{ name: "data", mountPath: "/mlflow" }],
          }],
          volumes: [{ name: "data", persistentVolumeClaim: { claimName: "mlflow" } }],
        },
      },
    },
  });
  await createAsOriginal({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "mlflow", namespace: NS, labels: legacyLabels, ownerReferences: ownedBy(server) },
    spec: { type: "ClusterIP", ports: [{ name: "server", port: 5000, targetPort: 5000 }], selector: legacyLabels },
  });
  const backend = { service: { name: "mlflow", port: { name: "server" } } };
  await createAsOriginal({
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name: "mlflow", namespace: NS, annotations: { "nginx.ingress.kubernetes.io/rewrite-target": "/$2" }, ownerReferences: ownedBy(server) },
    spec: {
      rules: [{
        host: "legacy.example.com",
        http: { paths: ["/team(/|$)(.*)", "/static-files", "/ajax-api"].map((p) => ({ path: p, pathType: "ImplementationSpecific", backend })) },
      }],
    },
  });
  await createAsOriginal({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: NS, labels: { app: "web" }, ownerReferences: ownedBy(web) },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "web" } },
      template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx:1.25", ports: [{ containerPort: 80 }] }] } },
    },
  });
  await createAsOriginal({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace: NS, labels: { app: "web" }, ownerReferences: ownedBy(web) },
    spec: { type: "NodePort", ports: [{ port: 80, targetPort: 80 }], selector: { app: "web" } },
  });
  // An object crdstack finds invalid (two replicas on SQLite), with a Deployment of the original's.
  const broken = await createAsOriginal({
    apiVersion: "experiment.aiscope/v1alpha2",
    kind: "TrackingServer",
    metadata: { name: "broken", namespace: NS, finalizers: [ORIGINAL_FINALIZER] },
    spec: { ...server.spec, size: 2, url: "", volumeSize: "" },
  });
  const brokenLabels = { app: "trackingserver", ts_name: "broken" };
  await createAsOriginal({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "broken", namespace: NS, ownerReferences: ownedBy(broken) },
    spec: { replicas: 2, selector: { matchLabels: brokenLabels }, template: { metadata: { labels: brokenLabels }, spec: { containers: [{ name: "mlflow", image: "ghcr.io/mlflow/mlflow:v3.1.1" }] } } },
  });
  await eventually("the claim bound", async () => ((await get("v1", "PersistentVolumeClaim", "mlflow"))?.status?.phase === "Bound" ? true : undefined));
  await eventually("the legacy pods ready", async () => ((await get("apps/v1", "Deployment", "mlflow"))?.status?.readyReplicas === 1 ? true : undefined));
  return {
    crds: await Promise.all(originalCrds().map((crd) => must(crd.apiVersion, crd.kind, crd.metadata.name))),
    claim: await must("v1", "PersistentVolumeClaim", "mlflow"),
    services: [await must("v1", "Service", "mlflow"), await must("v1", "Service", "web")],
    deployments: [await must("apps/v1", "Deployment", "mlflow"), await must("apps/v1", "Deployment", "web")],
    broken: await must("apps/v1", "Deployment", "broken"),
  };
}

/** The ReplicaSets a Deployment has made, by uid of their owner. */
async function replicaSetsOf(deployment: KubeObject): Promise<string[]> {
  const list = await c.request("GET", `/apis/apps/v1/namespaces/${NS}/replicasets`);
  return (list.items as KubeObject[]).filter((rs) => rs.metadata.ownerReferences?.some((ref: any) => ref.uid === deployment.metadata.uid)).map((rs) => rs.metadata.name);
}

before(async () => {
  c = await useCluster();
  await freshNamespace(c, NS);
  stack = await newStack(c.toolchain, { config: { source: "cluster", namespaces: [NS], installCrds: true }, kubeconfig: c.kubeconfig });
});

after(async () => {
  await stack?.destroy();
  await stack?.remove();
  await c.request("DELETE", `/api/v1/namespaces/${NS}`).catch(() => undefined);
  await c.request("DELETE", "/api/v1/persistentvolumes/legacy-mlflow").catch(() => undefined);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("moving from the Go controllers", () => {
  test("the program (cluster source) takes over what the originals made: same claim and data, same clusterIP, one rollout, no finalizer left", async () => {
    const legacy = await buildLegacyCluster();
    // The first preview shows the take-over; it does not dry-run children that still hold the originals' fields.
    const steps = await stack.plan();
    assert.ok(steps.some((step) => step.op === "create" && step.type.endsWith("Takeover") && step.name === `TrackingServer/${NS}/mlflow`), JSON.stringify(steps));
    await stack.up();

    // The CRDs are adopted, not re-created, and hold crdstack's schema and nothing of the originals'
    // (the TrackingServer's list of required fields, the controller-gen annotation are gone).
    const specSchema = (crd: KubeObject) => crd.spec.versions[0].schema.openAPIV3Schema.properties.spec;
    for (const before of legacy.crds) {
      const now = await must(before.apiVersion, before.kind, before.metadata.name);
      const ours = crdManifests().find((crd) => crd.metadata.name === before.metadata.name)!;
      assert.equal(now.metadata.uid, before.metadata.uid, `${before.metadata.name} kept`);
      assert.deepEqual(specSchema(now).required, specSchema(ours as KubeObject).required, `${before.metadata.name}: required fields`);
      assert.deepEqual(Object.keys(specSchema(now).properties).sort(), Object.keys(specSchema(ours as KubeObject).properties).sort());
      assert.equal(now.metadata.annotations?.["controller-gen.kubebuilder.io/version"], undefined);
    }

    // The claim and its data.
    const claim = await must("v1", "PersistentVolumeClaim", "mlflow");
    assert.equal(claim.metadata.uid, legacy.claim.metadata.uid);
    assert.equal(claim.spec.volumeName, "legacy-mlflow");
    assert.equal(claim.status.phase, "Bound");
    assert.equal(fs.readFileSync(path.join(dataDir, "mlflow.db"), "utf8"), "runs of the legacy server");
    assert.deepEqual(claim.metadata.ownerReferences?.map((ref: any) => ref.uid), [legacy.claim.metadata.ownerReferences[0].uid]);

    // The Services keep their clusterIPs and now send to the named port.
    for (const before of legacy.services) {
      const now = await must("v1", "Service", before.metadata.name);
      assert.equal(now.metadata.uid, before.metadata.uid);
      assert.equal(now.spec.clusterIP, before.spec.clusterIP, `${before.metadata.name} keeps its clusterIP`);
    }
    assert.deepEqual((await must("v1", "Service", "mlflow")).spec.selector, legacyLabels);
    assert.equal((await must("v1", "Service", "mlflow")).spec.ports[0].targetPort, "server");

    // The Deployments are updated in place (one rollout each), and keep nothing the originals set that
    // crdstack does not: no key in plain text, no stray variables.
    for (const before of legacy.deployments) {
      const now = await must("apps/v1", "Deployment", before.metadata.name);
      assert.equal(now.metadata.uid, before.metadata.uid, `${before.metadata.name} not replaced`);
      assert.ok((await replicaSetsOf(now)).length <= 2, `${before.metadata.name}: at most one rollout`);
    }
    const container = (await must("apps/v1", "Deployment", "mlflow")).spec.template.spec.containers[0];
    const names = container.env.map((e: any) => e.name);
    for (const gone of ["MLFLOW_TRACKING_URI", "ARTIFACT_ROOT", "BACKEND_URI"]) assert.ok(!names.includes(gone), `${gone} left over`);
    assert.ok(container.env.every((e: any) => e.value === undefined || !e.value.includes("legacy-secret-value")), "no key in the pod spec");
    assert.ok(container.env.filter((e: any) => e.name.startsWith("AWS_")).every((e: any) => e.valueFrom?.secretKeyRef && e.value === undefined));

    // The Ingress is crdstack's: no rewrite annotation, its own paths.
    const ingress = await must("networking.k8s.io/v1", "Ingress", "mlflow");
    assert.equal(ingress.metadata.annotations?.["nginx.ingress.kubernetes.io/rewrite-target"], undefined);
    assert.deepEqual(ingress.spec.rules[0].http.paths.map((p: any) => p.path), ["/team", "/api"]);

    // The marks are released; the status tells the truth.
    const server = await must("experiment.aiscope/v1alpha2", "TrackingServer", "mlflow");
    assert.ok(!(server.metadata.finalizers ?? []).includes(ORIGINAL_FINALIZER));
    assert.deepEqual(server.status?.problems, [], JSON.stringify(server.status?.problems));
    assert.equal(server.spec.url, "https://legacy.example.com/team", "the spec is left as the user wrote it");
    // The invalid object: its problem in its status, its children as the original made them, and its
    // finalizer released all the same, so that deleting it does not hang.
    const broken = await must("experiment.aiscope/v1alpha2", "TrackingServer", "broken");
    assert.deepEqual([...new Set(broken.status?.problems?.map((p: any) => p.path))], ["spec.size"]);
    assert.ok(!(broken.metadata.finalizers ?? []).includes(ORIGINAL_FINALIZER));
    const brokenDeployment = await must("apps/v1", "Deployment", "broken");
    assert.deepEqual(brokenDeployment.spec.template, legacy.broken.spec.template);
    assert.equal(brokenDeployment.metadata.generation, legacy.broken.metadata.generation);
    const web = await must("app.kubebuilder.io/v1", "EasyService", "web");
    assert.equal(web.metadata.annotations?.spec, undefined);
    await eventually("the server Ready", async () => {
      await stack.up();
      const now = await must("experiment.aiscope/v1alpha2", "TrackingServer", "mlflow");
      return now.status?.conditions?.[0]?.status === "True" ? true : undefined;
    }, 120_000);
    await stack.preview("--expect-no-changes");
  });

  test("volumeSize alone makes a claim of the cluster's default StorageClass, and the status says so", async () => {
    await createAsOriginal({ apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: { name: "data", namespace: NS }, spec: { volumeSize: "2Gi", storageClassName: "" } });
    await stack.up();
    const claim = await must("v1", "PersistentVolumeClaim", "data");
    assert.equal(claim.spec.storageClassName, STORAGE_CLASS, "the test cluster's default class");
    assert.equal((await must("experiment.aiscope/v1alpha2", "TrackingServer", "data")).status?.volume, "PersistentVolumeClaim data (2Gi, the cluster's default StorageClass)");
    await settle(c, stack, NS);
    await stack.preview("--expect-no-changes");
  });

  test("deleting a custom resource afterwards works, and the next run does not fail", async () => {
    c.kubectl("delete", "trackingservers.experiment.aiscope", "mlflow", "-n", NS, "--wait=true", "--timeout=60s");
    await eventually("the server's children gone", async () => ((await get("apps/v1", "Deployment", "mlflow")) === undefined ? true : undefined), 60_000);
    await stack.up();
    assert.equal(await get("v1", "Service", "mlflow"), undefined);
  });
});
