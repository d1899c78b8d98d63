// The in-cluster loop end to end under the real engine: the Stacks, workspace RBAC and watcher that
// `render --operator` makes, the watcher running for real under its service account, and the Pulumi
// Kubernetes Operator's part played by `OperatorLoop` (a `pulumi up` per reconciliation request, as the
// workspace service account). Everything a tenant does goes through the API server, as `kubectl` would.
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { after, before, describe, test } from "node:test";
import { stacks, watcher as watcherManifests, watcherConfig, workspaceRbac } from "../../builders/operator";
import { crdManifests } from "../../model/crd";
import { apply, Cluster, create, eventually, installCrds, KubeObject, readObject, remove, useCluster } from "../cluster/cluster";
import { deployWatcher, installStackCrd, operatorConfig, RunningWatcher, serviceAccountDir, serviceAccountToken, startWatcher } from "../cluster/operatorSetup";
import { OperatorLoop } from "./operatorLoop";

const OPS = "loop-ops";
const TEAM_A = "loop-a";
const TEAM_B = "loop-b";
const TEAM_C = "loop-c";

let c: Cluster;
let watcher: RunningWatcher;
let loop: OperatorLoop;

const ts = (namespace: string, name: string, spec: Record<string, unknown> = {}): KubeObject => ({ apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: { name, namespace }, spec: { size: 1, ...spec } });
const es = (namespace: string, name: string, spec: Record<string, unknown> = {}): KubeObject => ({ apiVersion: "app.kubebuilder.io/v1", kind: "EasyService", metadata: { name, namespace }, spec: { size: 1, image: "nginx:1.27", ports: [{ port: 80 }], ...spec } });
const deployment = (namespace: string, name: string) => readObject(c, { apiVersion: "apps/v1", kind: "Deployment", metadata: { name, namespace } });
const ready = (object: KubeObject | undefined) => object?.status?.conditions?.find((condition: any) => condition.type === "Ready");

/** Waits until the object's status has `Ready` with this status for its current generation; returns the object. */
async function waitReady(object: KubeObject, status: "True" | "False", timeoutMs = 90_000, reason?: string): Promise<KubeObject> {
  return explained(() => eventually(`${object.kind} ${object.metadata.namespace}/${object.metadata.name} Ready=${status}${reason ? ` (${reason})` : ""}`, async () => {
    const current = await readObject(c, object);
    const condition = ready(current);
    if (current === undefined || condition?.status !== status || current.status?.observedGeneration !== current.metadata.generation) return undefined;
    if (reason !== undefined && condition.reason !== reason) return undefined;
    return current;
  }, timeoutMs));
}

/** A wait whose failure tells what the loop and the watcher did: the runs, the last run's output, the object. */
async function explained<T>(wait: () => Promise<T>): Promise<T> {
  try {
    return await wait();
  } catch (error) {
    const runs = loop.runs.map((run, i) => `run ${i + 1}: exit ${run.code}, ${((run.endedAt - run.startedAt) / 1000).toFixed(1)} s, request ${run.request}`);
    throw new Error(`${(error as Error).message}\n${runs.join("\n")}\nlast run:\n${loop.runs.at(-1)?.output.slice(-3000) ?? "(none)"}\nwatcher:\n${watcher.lines.slice(-10).join("\n")}`);
  }
}

before(async () => {
  c = await useCluster();
  // What the bootstrap stack does as a cluster admin: CRDs, the operator's Stack CRD, namespaces, RBAC.
  await installCrds(c, crdManifests() as KubeObject[]);
  await installStackCrd(c);
  for (const name of [TEAM_A, TEAM_B, TEAM_C]) await create(c, { apiVersion: "v1", kind: "Namespace", metadata: { name } });
  const operator = operatorConfig({ namespace: OPS, namespaces: [TEAM_A, TEAM_B, TEAM_C], watcher: { debounceMs: 100 } });
  const stackObjects = stacks(operator) as KubeObject[];
  watcher = await deployWatcher(c, operator, stackObjects);
  for (const manifest of workspaceRbac(operator)) await apply(c, manifest as KubeObject);
  await watcher.waitFor(/ ready: /);
  loop = await OperatorLoop.create(c, (await readObject(c, stackObjects[0]))!);
  loop.start();
  // The watcher's start-up trigger makes the first run, on an empty shard.
  await loop.waitForRun(0);
});

after(async () => {
  await loop?.stop();
  await watcher?.stop();
});

describe("in the cluster: the operator's loop with the real watcher and the workspace's rights", () => {
  test("kubectl apply of a TrackingServer and an EasyService: their children, then Ready, with no failed run", async () => {
    const started = performance.now();
    await create(c, ts(TEAM_A, "tracking"));
    await create(c, es(TEAM_B, "web"));
    await waitReady(ts(TEAM_A, "tracking"), "True");
    await waitReady(es(TEAM_B, "web"), "True");
    console.log(`# apply → Ready for both: ${((performance.now() - started) / 1000).toFixed(1)} s, ${loop.runs.length} run(s) so far`);
    assert.ok(await deployment(TEAM_A, "tracking"));
    assert.ok(await readObject(c, { apiVersion: "v1", kind: "Service", metadata: { name: "web", namespace: TEAM_B } }));
    assert.deepEqual(loop.failures(), []);
  });

  test("a spec change reaches the Deployment and the status says Ready for the new generation", async () => {
    await c.request("PATCH", `/apis/app.kubebuilder.io/v1/namespaces/${TEAM_B}/easyservices/web`, { spec: { size: 2 } }, "application/merge-patch+json");
    await explained(() => eventually("web scaled to 2", async () => ((await deployment(TEAM_B, "web"))?.spec.replicas === 2 ? true : undefined), 60_000));
    const object = await waitReady(es(TEAM_B, "web"), "True");
    assert.equal(object.status.readyReplicas, 2);
    assert.deepEqual(loop.failures(), []);
  });

  test("a TrackingServer whose pods never get ready gets Ready=False, and holds back no other object", async () => {
    await create(c, ts(TEAM_A, "stuck", { image: "ghcr.io/mlflow/mlflow:never-ready" }));
    const stuck = await waitReady(ts(TEAM_A, "stuck"), "False");
    assert.match(ready(stuck).message, /0\/1/);
    // Another tenant's change goes through while the stuck one stays unready.
    await c.request("PATCH", `/apis/app.kubebuilder.io/v1/namespaces/${TEAM_B}/easyservices/web`, { spec: { size: 1 } }, "application/merge-patch+json");
    await explained(() => eventually("web scaled to 1", async () => ((await deployment(TEAM_B, "web"))?.spec.replicas === 1 ? true : undefined), 60_000));
    await waitReady(es(TEAM_B, "web"), "True");
    assert.deepEqual(loop.failures(), []);
  });

  test("a pod that stops being ready shows in the status within seconds, with no spec change", async () => {
    const pods = await c.request("GET", `/api/v1/namespaces/${TEAM_A}/pods?labelSelector=${encodeURIComponent("ts_name=tracking")}`);
    assert.equal(pods.items.length, 1);
    const pod = pods.items[0];
    const conditions = pod.status.conditions.map((condition: any) => (condition.type === "Ready" || condition.type === "ContainersReady" ? { ...condition, status: "False", lastTransitionTime: new Date().toISOString() } : condition));
    // What the kubelet reports when a readiness probe starts failing.
    await c.request("PATCH", `/api/v1/namespaces/${TEAM_A}/pods/${pod.metadata.name}/status`, { status: { conditions, containerStatuses: pod.status.containerStatuses.map((s: any) => ({ ...s, ready: false })) } }, "application/strategic-merge-patch+json");
    const started = performance.now();
    await waitReady(ts(TEAM_A, "tracking"), "False", 30_000);
    console.log(`# pod unready → status Ready=False: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    assert.deepEqual(loop.failures(), []);
  });

  test("drift: a Deployment deleted by hand and a Service edited by hand are put back, and the status says so", async () => {
    await remove(c, { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: TEAM_B } });
    await c.kubectl("-n", TEAM_B, "patch", "service", "web", "--type=merge", "-p", JSON.stringify({ spec: { ports: [{ port: 81, targetPort: 80 }] } }));
    const started = performance.now();
    await explained(() => eventually("web Deployment back", async () => (await deployment(TEAM_B, "web")) ?? undefined, 60_000));
    await explained(() => eventually("web Service port back", async () => {
      const service = await readObject(c, { apiVersion: "v1", kind: "Service", metadata: { name: "web", namespace: TEAM_B } });
      return service?.spec.ports.map((p: any) => p.port).join(",") === "80" ? true : undefined;
    }, 60_000));
    console.log(`# drift corrected in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const object = await explained(() => eventually("drift in the status", async () => {
      const current = await readObject(c, es(TEAM_B, "web"));
      return current?.status?.conditions?.some((condition: any) => condition.type === "DriftCorrected" && /web/.test(condition.message)) ? current : undefined;
    }, 60_000));
    assert.ok(object);
    assert.deepEqual(loop.failures(), []);
  });

  test("a child that collides with an object crdstack does not manage: that object gets Ready=False (Collision), the Secret is untouched", async () => {
    const secret = await create<KubeObject>(c, { apiVersion: "v1", kind: "Secret", metadata: { name: "taken-credentials", namespace: TEAM_A }, stringData: { owner: "someone else" } });
    await create(c, ts(TEAM_A, "taken"));
    const object = await waitReady(ts(TEAM_A, "taken"), "False", 90_000, "Collision");
    assert.match(JSON.stringify(object.status.problems), /taken-credentials/);
    const after = await readObject(c, secret);
    assert.equal(after!.metadata.resourceVersion, secret.metadata.resourceVersion);
    assert.deepEqual(loop.failures(), []);
  });

  test("lifecycle: deleted and re-created with the same name between runs, and deleted while a finalizer holds it", async () => {
    await loop.idle();
    const first = await readObject(c, es(TEAM_B, "web"));
    await remove(c, es(TEAM_B, "web"));
    await create(c, es(TEAM_B, "web"));
    const again = await waitReady(es(TEAM_B, "web"), "True");
    assert.notEqual(again.metadata.uid, first!.metadata.uid);
    const owner = (await deployment(TEAM_B, "web"))!.metadata.ownerReferences?.[0]?.uid;
    assert.equal(owner, again.metadata.uid);

    const held = await create(c, { ...ts(TEAM_A, "held"), metadata: { name: "held", namespace: TEAM_A, finalizers: ["example.com/hold"] } });
    await waitReady(held, "True");
    await remove(c, held);
    // The runs the deletion triggers pass and leave its Deployment as it is.
    const before = await deployment(TEAM_A, "held");
    await explained(() => eventually("a run after the deletion", async () => (loop.runs.at(-1)!.startedAt > performance.now() - 60_000 ? true : undefined)));
    await loop.idle();
    assert.equal((await deployment(TEAM_A, "held"))?.metadata.generation, before?.metadata.generation);
    await c.request("PATCH", `/apis/experiment.aiscope/v1alpha2/namespaces/${TEAM_A}/trackingservers/held`, { metadata: { finalizers: null } }, "application/merge-patch+json");
    await explained(() => eventually("held's Deployment collected", async () => ((await deployment(TEAM_A, "held")) === undefined ? true : undefined), 60_000));
    await loop.idle();
    assert.deepEqual(loop.failures(), []);
  });
  test("a served namespace deleted: the runs go on for the others, and nothing of it is deleted by the program", async () => {
    await create(c, es(TEAM_C, "short-lived"));
    await waitReady(es(TEAM_C, "short-lived"), "True");
    await loop.idle();
    const before = loop.runs.length;
    // The namespace goes with everything in it, the workspace's and the watcher's RoleBindings too.
    await remove(c, { apiVersion: "v1", kind: "Namespace", metadata: { name: TEAM_C } });
    await explained(() => eventually(`namespace ${TEAM_C} gone`, async () => ((await readObject(c, { apiVersion: "v1", kind: "Namespace", metadata: { name: TEAM_C } })) === undefined ? true : undefined), 90_000));
    await c.request("PATCH", `/apis/app.kubebuilder.io/v1/namespaces/${TEAM_B}/easyservices/web`, { spec: { size: 3 } }, "application/merge-patch+json");
    await explained(() => eventually("web scaled to 3", async () => ((await deployment(TEAM_B, "web"))?.spec.replicas === 3 ? true : undefined), 60_000));
    await loop.idle();
    assert.ok(loop.runs.length > before);
    assert.deepEqual(loop.failures(), []);
  });

  test("a namespace leaves the stack (the bootstrap removes its RoleBindings and the Stack's config names it no more): no failed run, and its objects are left as they are", async () => {
    const web = (await deployment(TEAM_B, "web"))!;
    const leaving = operatorConfig({ namespace: OPS, namespaces: [TEAM_A], watcher: { debounceMs: 100 } });
    // What the bootstrap stack's next run does: the RoleBindings of the namespace go, the Stack's config
    // and the watcher's change (the operator then replaces the workspace pod, Kubernetes the watcher's).
    for (const name of ["crdstack-workspace", "crdstack-watcher"]) await remove(c, { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name, namespace: TEAM_B } });
    for (const stack of stacks(leaving)) await apply(c, stack as KubeObject);
    await watcher.stop();
    for (const manifest of watcherManifests(leaving).filter((m) => m.kind !== "Deployment")) await apply(c, manifest as KubeObject);
    watcher = startWatcher(c, watcherConfig(leaving), serviceAccountDir(c, await serviceAccountToken(c, OPS, "crdstack-watcher")));
    await watcher.waitFor(/ ready: /);
    await loop.reload();
    const before = loop.runs.length;
    await loop.waitForRun(before);
    await loop.idle();
    assert.deepEqual(loop.failures(), []);
    const after = await deployment(TEAM_B, "web");
    assert.equal(after?.metadata.uid, web.metadata.uid, "the Deployment of the namespace that left is still there");
    assert.equal(after?.metadata.generation, web.metadata.generation);
    assert.doesNotMatch(await loop.stack.exportState(), new RegExp(`${TEAM_B}/web`), "the stack holds it no more");
  });
});
