// What the API server refuses at apply, asked before anything is applied: a server-side dry run of a
// child (sources/cluster.ts dryRunApply) runs validation and admission (the claim-resize check, quotas,
// admission policies) as the apply would, and stores nothing.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { Manifest } from "../../builders/meta";
import { childrenOf } from "../../builders/plan";
import { refusalProblem } from "../../model/dryRun";
import { TrackingServerObject } from "../../model/objects";
import * as k8s from "@kubernetes/client-node";
import { dryRunApply } from "../../sources/cluster";
import { planAgainstCluster } from "../../sources/plan";
import { trackingServer } from "../helpers";
import { apply, Cluster, create, eventually, freshNamespace, KubeObject, readObject, useCluster } from "./cluster";
import { STORAGE_CLASS } from "./controlPlane";

const OPTIONS = { defaultImage: "ghcr.io/mlflow/mlflow:v3.1.1" };
const FIXED = "dry-run-fixed";
let c: Cluster;

before(async () => {
  c = await useCluster();
});

const childOf = (object: TrackingServerObject, kind: string): Manifest => childrenOf(object, OPTIONS).find((child) => child.kind === kind)!;
const server = (namespace: string, spec: Record<string, unknown>, name = "mlflow") => trackingServer({ size: 1, aws_access_key: "a", aws_secret_key: "b", ...spec }, name, namespace);

describe("a claim resize", () => {
  let namespace: string;
  before(async () => {
    namespace = await freshNamespace(c, "dry-run-resize");
    // A class whose volumes cannot grow, with a volume made by hand (no provisioner serves it).
    await create(c, { apiVersion: "storage.k8s.io/v1", kind: "StorageClass", metadata: { name: FIXED }, provisioner: "crdstack.test/fixed", allowVolumeExpansion: false } as KubeObject);
  });

  /** The claim as the program applies it, bound to a volume, as a running server's is. */
  async function boundClaim(object: TrackingServerObject): Promise<void> {
    const claim = childOf(object, "PersistentVolumeClaim");
    const applied = await apply(c, claim as KubeObject);
    if (object.spec.storageClassName === FIXED) {
      await create(c, {
        apiVersion: "v1", kind: "PersistentVolume", metadata: { name: `${namespace}-${object.metadata.name}` },
        spec: {
          capacity: { storage: object.spec.volumeSize }, accessModes: ["ReadWriteOnce"], storageClassName: FIXED, hostPath: { path: "/tmp/dry-run" },
          claimRef: { apiVersion: "v1", kind: "PersistentVolumeClaim", namespace, name: object.metadata.name, uid: applied.metadata.uid },
        },
      } as KubeObject);
    }
    await eventually(`${object.metadata.name}'s claim bound`, async () => ((await readObject(c, claim as KubeObject)) as any)?.status?.phase === "Bound" || undefined);
  }

  test("a larger volumeSize on a StorageClass without allowVolumeExpansion is Refused on spec.volumeSize, quoting the server; the claim keeps its size", async () => {
    await boundClaim(server(namespace, { volumeSize: "1Gi", storageClassName: FIXED }, "fixed"));
    const larger = server(namespace, { volumeSize: "2Gi", storageClassName: FIXED }, "fixed");
    const claim = childOf(larger, "PersistentVolumeClaim");
    const message = await dryRunApply(c.config, claim);
    assert.ok(message !== undefined, "refused");
    assert.match(message, /storageclass that provisions the pvc must support resize/);
    assert.deepEqual(refusalProblem(larger, claim, message), { path: "spec.volumeSize", message: `the API server refuses the PersistentVolumeClaim "fixed": ${message}`, reason: "Refused" });
    const stored = (await readObject(c, claim as KubeObject)) as any;
    assert.equal(stored.spec.resources.requests.storage, "1Gi", "a dry run changes nothing");
  });

  test("the same resize on a class that allows expansion is accepted", async () => {
    await boundClaim(server(namespace, { volumeSize: "1Gi", storageClassName: STORAGE_CLASS }, "growing"));
    assert.equal(await dryRunApply(c.config, childOf(server(namespace, { volumeSize: "2Gi", storageClassName: STORAGE_CLASS }, "growing"), "PersistentVolumeClaim")), undefined);
  });
});

describe("a ResourceQuota", () => {
  test("a claim above the namespace's storage quota is Refused, quoting the quota; one within it is accepted, and the dry run uses none of it", async () => {
    const namespace = await freshNamespace(c, "dry-run-quota");
    const quota = { apiVersion: "v1", kind: "ResourceQuota", metadata: { name: "storage", namespace }, spec: { hard: { "requests.storage": "1Gi" } } } as KubeObject;
    const created = await create(c, quota);
    // Admission refuses every claim ("status unknown") until the quota controller has counted the
    // namespace; that controller does not run here: count it as it would (nothing used yet).
    await c.request("PUT", `/api/v1/namespaces/${namespace}/resourcequotas/storage/status`, { ...created, status: { hard: { "requests.storage": "1Gi" }, used: { "requests.storage": "0" } } });
    const big = server(namespace, { volumeSize: "2Gi" });
    const claim = childOf(big, "PersistentVolumeClaim");
    const message = await dryRunApply(c.config, claim);
    assert.ok(message !== undefined, "refused");
    assert.match(message, /exceeded quota: storage/);
    assert.equal(refusalProblem(big, claim, message).reason, "Refused");
    assert.equal(await dryRunApply(c.config, childOf(server(namespace, { volumeSize: "512Mi" }), "PersistentVolumeClaim")), undefined);
    assert.equal(await readObject(c, claim as KubeObject), undefined, "nothing stored");
    assert.equal(((await readObject(c, quota)) as any).status.used?.["requests.storage"] ?? "0", "0");
  });
});

describe("an admission policy", () => {
  test("an Ingress whose host a ValidatingAdmissionPolicy denies is Refused on spec.url, quoting the policy's message; an allowed host is accepted", async () => {
    const namespace = await freshNamespace(c, "dry-run-policy");
    await create(c, {
      apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicy", metadata: { name: "dry-run-hosts" },
      spec: {
        failurePolicy: "Fail",
        matchConstraints: { resourceRules: [{ apiGroups: ["networking.k8s.io"], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["ingresses"] }] },
        validations: [{ expression: "object.spec.rules.all(r, !has(r.host) || r.host.endsWith('.allowed.example.com'))", message: "hosts must end in .allowed.example.com" }],
      },
    } as KubeObject);
    await create(c, {
      apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicyBinding", metadata: { name: "dry-run-hosts" },
      spec: { policyName: "dry-run-hosts", validationActions: ["Deny"], matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } } } },
    } as KubeObject);
    const denied = server(namespace, { url: "https://mlflow.denied.example.com" });
    const ingress = childOf(denied, "Ingress");
    // The API server loads a new policy within a few seconds.
    const message = await eventually("the policy in force", () => dryRunApply(c.config, ingress));
    assert.match(message, /hosts must end in \.allowed\.example\.com/);
    assert.deepEqual(refusalProblem(denied, ingress, message), { path: "spec.url", message: `the API server refuses the Ingress "mlflow": ${message}`, reason: "Refused" });
    assert.equal(await dryRunApply(c.config, childOf(server(namespace, { url: "https://mlflow.allowed.example.com" }), "Ingress")), undefined);
    assert.equal(await readObject(c, ingress as KubeObject), undefined, "nothing stored");
  });
});

describe("no answer", () => {
  test("an API server that does not answer the dry run: a warning naming the child, and the object is applied as planned (the apply will tell)", async () => {
    const silent = new k8s.KubeConfig();
    // A port nothing listens on: the connection is refused.
    silent.loadFromClusterAndUser({ name: "silent", server: "https://127.0.0.1:1", skipTLSVerify: true }, { name: "nobody", token: "x" });
    const raw = { apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: { name: "mlflow", namespace: "quiet", uid: "u-1" }, spec: { size: 1, volumeSize: "1Gi" } };
    const warnings: string[] = [];
    const state = { objects: [], tlsSecrets: new Set<string>(), existing: new Map() };
    const { planned } = await planAgainstCluster([{ raw }], { namespaces: [] }, state, silent, (message) => warnings.push(message));
    assert.deepEqual(planned[0].problems, []);
    assert.equal((planned[0].applied?.spec as { volumeSize?: string }).volumeSize, "1Gi");
    assert.ok(warnings.some((w) => w.startsWith("TrackingServer quiet/mlflow: cannot ask the API server whether it accepts the PersistentVolumeClaim quiet/mlflow")), warnings.join("\n"));
  });
});
