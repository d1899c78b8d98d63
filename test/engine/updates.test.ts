// The laptop flow under the real engine: a first run on an empty namespace, then one change per field
// class, each touching exactly the objects `render` says change, never replacing a claim, and keeping
// the claim's uid and the Service's clusterIP.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PEM } from "../helpers";
import { Cluster, freshNamespace, KubeObject, readObject, useCluster } from "../cluster/cluster";
import { settle } from "./settle";
import { newStack, PulumiStack, stepObject } from "./pulumi";
import { changedObjects, easyService, SpecFolder, trackingServer } from "./specs";

const NS = "updates";
let c: Cluster;
let stack: PulumiStack;
const specs = new SpecFolder();

let objects: KubeObject[] = [
  trackingServer(NS, "store", { image: "ghcr.io/mlflow/mlflow:v3.1.1", volumeSize: "1Gi", storageClassName: "standard", url: "https://store.example.com" }),
  trackingServer(NS, "scratch", {}),
  easyService(NS, "web", {
    size: 1,
    image: "nginx:1.25",
    ports: [{ name: "http", port: 80, targetPort: 8080 }],
    envs: [{ name: "MODE", value: "a" }],
    resources: { requests: { cpu: "100m", memory: "64Mi" } },
  }),
];

before(async () => {
  c = await useCluster();
  await freshNamespace(c, NS);
  specs.write(objects);
  stack = await newStack(c.toolchain, { config: { specs: specs.dir }, kubeconfig: c.kubeconfig });
});

after(async () => {
  await stack?.destroy();
  await stack?.remove();
  specs.remove();
});

/** What the cluster must keep through an update: each claim's uid and each Service's clusterIP. */
async function identities(): Promise<Record<string, string | undefined>> {
  const claims = await c.request("GET", `/api/v1/namespaces/${NS}/persistentvolumeclaims`);
  const services = await c.request("GET", `/api/v1/namespaces/${NS}/services`);
  return Object.fromEntries([
    ...claims.items.map((claim: KubeObject) => [`claim ${claim.metadata.name}`, claim.metadata.uid]),
    ...services.items.map((service: KubeObject) => [`service ${service.metadata.name}`, service.spec.clusterIP]),
  ]);
}

const changed = (steps: { op: string; type: string; name: string }[]) =>
  steps.filter((step) => step.type.startsWith("kubernetes:") && step.op !== "same").map(stepObject).sort();

/** Replaces one object's spec fields. */
function edit(name: string, fields: Record<string, unknown>): KubeObject[] {
  return objects.map((o) => (o.metadata.name === name ? { ...o, spec: { ...o.spec, ...fields } } : o));
}

describe("laptop flow under the real engine", () => {
  test("first run: the preview lists every object, up creates them, each custom resource is Ready, a second run has nothing to do", async () => {
    const rendered = specs.render().map((o) => `${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`).sort();
    const steps = await stack.plan();
    assert.deepEqual(steps.filter((s) => s.type.startsWith("kubernetes:")).map((s) => `${s.op} ${stepObject(s)}`).sort(), rendered.map((o) => `create ${o}`));
    await stack.up();
    // The run does not wait for pods: once they are ready, the next run (the watcher's, in the cluster)
    // writes Ready.
    await settle(c, stack, NS);
    for (const object of objects) {
      const status = (await readObject(c, object))!.status;
      assert.equal(status?.conditions?.find((cond: { type: string }) => cond.type === "Ready")?.status, "True", `${object.kind} ${object.metadata.name}: ${JSON.stringify(status)}`);
    }
    await stack.preview("--expect-no-changes");
  });

  const updates: [string, () => KubeObject[]][] = [
    ["image", () => edit("store", { image: "ghcr.io/mlflow/mlflow:v3.1.0" })],
    ["size", () => edit("web", { size: 2 })],
    ["url", () => edit("store", { url: "https://store.example.com/team" })],
    ["cert and key", () => edit("store", PEM)],
    ["volume added", () => edit("scratch", { volumeSize: "1Gi", storageClassName: "standard" })],
    ["volume grown", () => edit("store", { volumeSize: "2Gi" })],
    ["ports", () => edit("web", { ports: [{ name: "http", port: 80, targetPort: 8080 }, { name: "metrics", port: 9090 }] })],
    ["envs", () => edit("web", { envs: [{ name: "MODE", value: "b" }, { name: "EXTRA", value: "1" }] })],
    ["resources", () => edit("web", { resources: { requests: { cpu: "200m", memory: "64Mi" }, limits: { cpu: "500m", memory: "128Mi" } } })],
  ];

  for (const [field, update] of updates) {
    test(`${field}: only the objects render says change are changed, no claim is replaced, uids and clusterIPs stay`, async () => {
      const before = specs.render();
      const kept = await identities();
      objects = update();
      specs.write(objects);
      const expected = changedObjects(before, specs.render());
      const steps = await stack.plan();
      assert.deepEqual(changed(steps), expected);
      assert.deepEqual(steps.filter((s) => s.op.includes("replace") || s.op === "delete").map(stepObject), [], "nothing is replaced or deleted");
      await stack.up();
      const now = await identities();
      for (const [what, value] of Object.entries(kept)) assert.equal(now[what], value, what);
      // The rollout the update started moves the status after it was written: the next run writes it.
      await settle(c, stack, NS);
      await stack.preview("--expect-no-changes");
    });
  }
});
