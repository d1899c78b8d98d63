// One run serves every object of the stack: an object whose pods never get ready must not hold the run
// or the others, and its status must say what is wrong, read from the cluster, not from Pulumi's state.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Cluster, eventually, freshNamespace, KubeObject, readObject, useCluster } from "../cluster/cluster";
import { newStack, PulumiStack } from "./pulumi";
import { settle } from "./settle";
import { easyService, SpecFolder, trackingServer } from "./specs";

const NS = "isolation";
let c: Cluster;
let stack: PulumiStack;
const specs = new SpecFolder();

before(async () => {
  c = await useCluster();
  await freshNamespace(c, NS);
  stack = await newStack(c.toolchain, { config: { specs: specs.dir }, kubeconfig: c.kubeconfig });
});

after(async () => {
  await stack?.destroy();
  await stack?.remove();
  specs.remove();
});

const get = (apiVersion: string, kind: string, name: string) => readObject(c, { apiVersion, kind, metadata: { name, namespace: NS } });
const ready = async (object: KubeObject) => (await readObject(c, object))?.status?.conditions?.find((condition: { type: string }) => condition.type === "Ready");

/** `pulumi up`, its duration printed (a run that awaited the never-ready Deployment would take ten minutes). */
async function timedUp(what: string): Promise<void> {
  const start = Date.now();
  await stack.up();
  console.log(`# ${what}: pulumi up took ${((Date.now() - start) / 1000).toFixed(1)} s`);
}

describe("isolation under the real engine", () => {
  const good = trackingServer(NS, "good", {});
  const web = easyService(NS, "web", { size: 1, image: "nginx:1.25", ports: [{ port: 80 }] });
  const doomed = trackingServer(NS, "doomed", { url: "https://doomed.example.com" });
  const stuck = trackingServer(NS, "stuck", { image: "ghcr.io/mlflow/mlflow:never-ready" });

  test("a server whose pods never get ready neither holds the run nor the others; its status says why", async () => {
    specs.write([good, web, doomed]);
    await timedUp("three healthy objects");
    assert.ok(await get("networking.k8s.io/v1", "Ingress", "doomed"));

    // In one run: a server that never gets ready arrives, and another object leaves.
    specs.write([good, web, stuck]);
    await timedUp("a never-ready server added, an object removed");
    for (const [apiVersion, kind, name] of [["apps/v1", "Deployment", "good"], ["v1", "Service", "good"], ["apps/v1", "Deployment", "web"], ["v1", "Service", "web"], ["apps/v1", "Deployment", "stuck"]]) {
      assert.ok(await get(apiVersion, kind, name), `${kind} ${name} is applied`);
    }
    for (const [apiVersion, kind, name] of [["apps/v1", "Deployment", "doomed"], ["v1", "Service", "doomed"], ["v1", "Secret", "doomed-credentials"], ["networking.k8s.io/v1", "Ingress", "doomed"]]) {
      assert.equal(await get(apiVersion, kind, name), undefined, `${kind} ${name} of the removed object is deleted`);
    }
    const start = Date.now();
    await settle(c, stack, NS, ["stuck"]);
    console.log(`# the healthy Deployments rolled out, and the next run: ${((Date.now() - start) / 1000).toFixed(1)} s`);
    assert.deepEqual([(await ready(good))?.status, (await ready(good))?.reason], ["True", "Available"]);
    assert.deepEqual([(await ready(web))?.status, (await readObject(c, web))?.status?.readyReplicas], ["True", 1]);
    const stuckReady = await ready(stuck);
    assert.equal(stuckReady?.status, "False");
    assert.equal(stuckReady?.reason, "NotReady");
    assert.match(stuckReady?.message, /^0\/1 replicas ready: pod stuck-[a-z0-9]+-[a-z0-9]+: container mlflow not ready$/);

    const steps = await stack.plan();
    assert.deepEqual(steps.filter((step) => step.op !== "same"), [], "nothing moved: the status has no change either");
  });

  test("a pod that stops being ready: the next run writes Ready=False without a spec change", async () => {
    assert.equal((await ready(good))?.status, "True");
    const pods = await c.core.listNamespacedPod({ namespace: NS, labelSelector: "app.kubernetes.io/instance=good" });
    assert.equal(pods.items.length, 1);
    const pod = pods.items[0];
    const conditions = (pod.status?.conditions ?? []).map((cond) => (cond.type === "Ready" || cond.type === "ContainersReady" ? { ...cond, status: "False" } : cond));
    const containerStatuses = (pod.status?.containerStatuses ?? []).map((status) => ({ ...status, ready: false }));
    await c.request("PATCH", `/api/v1/namespaces/${NS}/pods/${pod.metadata!.name}/status`, { status: { conditions, containerStatuses } }, "application/strategic-merge-patch+json");
    await eventually("the Deployment sees it", async () => ((await get("apps/v1", "Deployment", "good"))?.status?.readyReplicas ?? 0) === 0 || undefined);

    const steps = await stack.plan();
    assert.deepEqual(steps.filter((step) => step.op !== "same").map((step) => `${step.op} ${step.name}`), ["update status"], "only the status changes");
    await timedUp("after a pod stopped being ready");
    const now = await ready(good);
    assert.equal(now?.status, "False");
    assert.equal(now?.reason, "NotReady");
    assert.match(now?.message, new RegExp(`pod ${pod.metadata!.name}: container mlflow not ready`));
    assert.equal((await readObject(c, good))?.metadata.generation, 1, "no spec change");
  });
});
