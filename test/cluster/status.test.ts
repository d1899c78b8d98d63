// The status writer (the dynamic provider's work) and the cluster reads, against a real API server.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { LiveReadiness, statusEntry } from "../../builders/status";
import { crdManifests } from "../../model/crd";
import { LiveApi, liveApiFrom, readReadiness } from "../../providers/readiness";
import { StatusApi, statusProvider, WRITE_CONCURRENCY, writeStatus, writeStatuses } from "../../providers/status";
import { serviceAccountToken } from "./operatorSetup";
import { readCluster } from "../../sources/cluster";
import { trackingServer } from "../helpers";
import { apply, Cluster, create, eventually, freshNamespace, installCrds, KubeObject, readObject, remove, useCluster } from "./cluster";

let c: Cluster;
let api: k8s.CustomObjectsApi;
before(async () => {
  c = await useCluster();
  await installCrds(c, crdManifests() as KubeObject[]);
  api = c.config.makeApiClient(k8s.CustomObjectsApi);
});

const custom = (name: string, namespace: string, spec: Record<string, unknown> = {}, labels?: Record<string, string>): KubeObject =>
  ({ apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: { name, namespace, ...(labels ? { labels } : {}) }, spec });

const READY: LiveReadiness = { ready: { type: "Ready", status: "True", reason: "Available", message: "1/1 replicas ready" }, counts: { replicas: 1, readyReplicas: 1 } };

function entryFor(object: KubeObject, problems: { path: string; message: string; reason?: string }[] = [], drift?: string[]) {
  const parsed = trackingServer(object.spec, object.metadata.name, object.metadata.namespace);
  return statusEntry(
    { kind: "TrackingServer", namespace: object.metadata.namespace!, name: object.metadata.name, uid: object.metadata.uid, generation: object.metadata.generation, problems, applied: problems.length ? undefined : parsed, drift },
    READY,
  );
}

/** A Deployment whose one pod runs `image` (kwok: `:never-ready` never gets ready). */
const deployment = (name: string, namespace: string, image: string): KubeObject => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, namespace },
  spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "mlflow", image }] } } },
});

describe("status writer", () => {
  test("create: writes observedGeneration, a Ready condition, url and lastAppliedSpec; changes nothing but status", async () => {
    const namespace = await freshNamespace(c, "status-create");
    const object = await create(c, custom("ts", namespace, { url: "https://m.example.com", aws_access_key: "AKIAEXAMPLE", aws_secret_key: "s3cr3t-value" }, { team: "a" }));
    assert.equal(await writeStatus(api, entryFor(object), "2026-01-01T00:00:00Z"), "written");
    const live = (await readObject(c, object))!;
    assert.equal(live.status.observedGeneration, 1);
    assert.deepEqual(live.status.conditions, [{ type: "Ready", status: "True", reason: "Available", message: "1/1 replicas ready", observedGeneration: 1, lastTransitionTime: "2026-01-01T00:00:00Z" }]);
    assert.equal(live.status.url, "https://m.example.com");
    assert.equal(live.status.lastAppliedSpec.aws_secret_key, "(secret)");
    assert.ok(!JSON.stringify(live.status).includes("s3cr3t-value"));
    assert.deepEqual([live.metadata.generation, live.metadata.labels, live.spec.aws_secret_key], [1, { team: "a" }, "s3cr3t-value"]);
  });

  test("update: a new status replaces the old one; lastTransitionTime moves only when the condition changes", async () => {
    const namespace = await freshNamespace(c, "status-update");
    const object = await create(c, custom("ts", namespace));
    await writeStatus(api, entryFor(object), "2026-01-01T00:00:00Z");
    await writeStatus(api, entryFor(object), "2026-01-02T00:00:00Z");
    assert.equal((await readObject(c, object))!.status.conditions[0].lastTransitionTime, "2026-01-01T00:00:00Z");
    const problems = [{ path: "spec.key", message: "Only one of `cert` or `key` is set: set both or neither" }];
    await writeStatus(api, entryFor(object, problems), "2026-01-03T00:00:00Z");
    const live = (await readObject(c, object))!;
    assert.deepEqual(live.status.problems, problems);
    assert.equal(live.status.conditions[0].status, "False");
    assert.equal(live.status.conditions[0].reason, "InvalidSpec");
    assert.match(live.status.conditions[0].message, /spec.key: Only one of `cert` or `key` is set/);
    assert.equal(live.status.conditions[0].lastTransitionTime, "2026-01-03T00:00:00Z");
    assert.equal(live.status.lastAppliedSpec, undefined);
  });

  test("an object that is missing, or was deleted and created again, is skipped without error", async () => {
    const namespace = await freshNamespace(c, "status-missing");
    const object = await create(c, custom("ts", namespace));
    const entry = entryFor(object);
    await remove(c, object);
    assert.equal(await writeStatus(api, entry, "2026-01-01T00:00:00Z"), "missing");
    await create(c, custom("ts", namespace));
    assert.equal(await writeStatus(api, entry, "2026-01-01T00:00:00Z"), "missing", "a new object with the same name has another uid");
    assert.equal((await readObject(c, object))!.status, undefined);
  });

  test("a conflict (the object changed between read and write) is retried", async () => {
    const namespace = await freshNamespace(c, "status-conflict");
    const object = await create(c, custom("ts", namespace));
    let interfered = 0;
    const racing: StatusApi = {
      getNamespacedCustomObject: (request) => api.getNamespacedCustomObject(request),
      replaceNamespacedCustomObjectStatus: async (request) => {
        if (interfered++ === 0) await apply(c, { ...custom("ts", namespace, { size: 0 }) });
        return api.replaceNamespacedCustomObjectStatus(request);
      },
    };
    assert.equal(await writeStatus(racing, entryFor(object), "2026-01-01T00:00:00Z"), "written");
    assert.equal(interfered, 2, "the first write met a conflict and was retried");
    const live = (await readObject(c, object))!;
    assert.equal(live.status.observedGeneration, 1);
    assert.equal(live.metadata.generation, 2, "the status says it describes generation 1 while the spec moved on");
  });

  test("the provider writes only what changed between runs, and delete leaves statuses alone", async () => {
    const namespace = await freshNamespace(c, "status-provider");
    const a = await create(c, custom("a", namespace));
    const b = await create(c, custom("b", namespace));
    const entries = { a: entryFor(a), b: entryFor(b) };
    process.env.KUBECONFIG = c.kubeconfig;
    const created = await statusProvider.create!({ entries });
    assert.deepEqual(created.outs.missing, []);
    const before = (await readObject(c, b))!.metadata.resourceVersion;
    const next = { a: entryFor(a, [{ path: "spec.size", message: "-1 is outside 0-100" }]), b: entries.b, gone: entryFor(custom("gone", namespace)) };
    const diff = await statusProvider.diff!("status", created.outs, { entries: next });
    assert.equal(diff.changes, true);
    const updated = await statusProvider.update!("status", created.outs, { entries: next });
    assert.deepEqual(updated.outs.missing, ["gone"]);
    assert.equal((await readObject(c, a))!.status.problems.length, 1);
    assert.equal((await readObject(c, b))!.metadata.resourceVersion, before, "an unchanged status is not written again");
    await statusProvider.delete!("status", updated.outs);
    assert.equal((await readObject(c, a))!.status.problems.length, 1);
  });

  test("an object whose kind the API server does not serve counts as missing", async () => {
    const missingCrd = { ...entryFor(custom("x", "default")), target: { group: "example.com", version: "v1", plural: "nothings", kind: "TrackingServer" as const, namespace: "default", name: "x" } };
    const { missing } = await writeStatuses(api, liveApiFrom(c.config), { x: missingCrd });
    assert.deepEqual(missing, ["x"]);
  });

  test("a problem's reason is the Ready condition's reason; drift is a DriftCorrected condition kept by later runs", async () => {
    const namespace = await freshNamespace(c, "status-reasons");
    const object = await create(c, custom("ts", namespace));
    await writeStatus(api, entryFor(object, [{ path: "metadata.name", message: "Secret ts-credentials exists and is not this object's", reason: "Collision" }]), "2026-01-01T00:00:00Z");
    assert.equal((await readObject(c, object))!.status.conditions[0].reason, "Collision");
    await writeStatus(api, entryFor(object, [], [`Deployment ${namespace}/ts was deleted`]), "2026-01-02T00:00:00Z");
    const drift = { type: "DriftCorrected", status: "True", reason: "DriftCorrected", message: `Put back: Deployment ${namespace}/ts was deleted`, observedGeneration: 1, lastTransitionTime: "2026-01-02T00:00:00Z" };
    assert.deepEqual((await readObject(c, object))!.status.conditions[1], drift);
    await writeStatus(api, entryFor(object), "2026-01-03T00:00:00Z");
    const conditions = (await readObject(c, object))!.status.conditions;
    assert.deepEqual(conditions.map((c: any) => c.type), ["Ready", "DriftCorrected"]);
    assert.deepEqual(conditions[1], drift, "a run without drift keeps what the last one put back");
  });
});

describe("readiness from the live Deployment", () => {
  const live = () => liveApiFrom(c.config);

  test("a Deployment whose pod is ready: Available; one that never gets ready: NotReady naming the pod and container; none: Reconciling", async () => {
    const namespace = await freshNamespace(c, "live-ready");
    await create(c, deployment("good", namespace, "nginx:1.25"));
    await create(c, deployment("stuck", namespace, "nginx:never-ready"));
    const good = await eventually("good ready", async () => ((await readReadiness(live(), namespace, "good")).ready.status === "True" ? readReadiness(live(), namespace, "good") : undefined));
    assert.deepEqual(good.ready, { type: "Ready", status: "True", reason: "Available", message: "1/1 replicas ready" });
    assert.equal(good.counts?.readyReplicas, 1);
    const stuck = await eventually("stuck reported", async () => {
      const reading = await readReadiness(live(), namespace, "stuck");
      return reading.ready.message.includes("pod ") ? reading : undefined;
    });
    assert.equal(stuck.ready.status, "False");
    assert.equal(stuck.ready.reason, "NotReady");
    assert.match(stuck.ready.message, /^0\/1 replicas ready: pod stuck-[a-z0-9]+-[a-z0-9]+: container mlflow not ready$/);
    assert.deepEqual((await readReadiness(live(), namespace, "absent")).ready, { type: "Ready", status: "Unknown", reason: "Reconciling", message: `Deployment ${namespace}/absent does not exist yet` });
  });

  test("a pod that stops being ready turns an Available Deployment into NotReady", async () => {
    const namespace = await freshNamespace(c, "live-unready");
    await create(c, deployment("web", namespace, "nginx:1.25"));
    await eventually("web ready", async () => ((await readReadiness(live(), namespace, "web")).ready.status === "True" ? true : undefined));
    const pods = await c.core.listNamespacedPod({ namespace, labelSelector: "app=web" });
    const pod = pods.items[0];
    const conditions = (pod.status?.conditions ?? []).map((cond) => (cond.type === "Ready" || cond.type === "ContainersReady" ? { ...cond, status: "False" } : cond));
    const containerStatuses = (pod.status?.containerStatuses ?? []).map((status) => ({ ...status, ready: false }));
    await c.request("PATCH", `/api/v1/namespaces/${namespace}/pods/${pod.metadata!.name}/status`, { status: { conditions, containerStatuses } }, "application/strategic-merge-patch+json");
    const reading = await eventually("web not ready", async () => {
      const now = await readReadiness(live(), namespace, "web");
      return now.ready.status === "False" ? now : undefined;
    });
    assert.equal(reading.ready.reason, "NotReady");
    assert.match(reading.ready.message, new RegExp(`pod ${pod.metadata!.name}: container mlflow not ready`));
  });

  test("the provider's diff sees a readiness change that no input shows, and only then", async () => {
    const namespace = await freshNamespace(c, "live-diff");
    const object = await create(c, custom("web", namespace));
    await create(c, deployment("web", namespace, "nginx:1.25"));
    await eventually("web ready", async () => ((await readReadiness(live(), namespace, "web")).ready.status === "True" ? true : undefined));
    const entry = statusEntry({ kind: "TrackingServer", namespace, name: "web", uid: object.metadata.uid, generation: 1, problems: [], applied: trackingServer({}, "web", namespace) });
    process.env.KUBECONFIG = c.kubeconfig;
    const created = await statusProvider.create!({ entries: { web: entry } });
    assert.equal((await readObject(c, object))!.status.conditions[0].reason, "Available");
    assert.equal((await statusProvider.diff!("status", created.outs, { entries: { web: entry } })).changes, false, "nothing moved");
    await c.request("PATCH", `/apis/apps/v1/namespaces/${namespace}/deployments/web`, { spec: { template: { spec: { containers: [{ name: "mlflow", image: "nginx:never-ready" }] } } } }, "application/strategic-merge-patch+json");
    await eventually("the rollout stuck", async () => ((await readReadiness(live(), namespace, "web")).ready.status === "False" ? true : undefined));
    assert.equal((await statusProvider.diff!("status", created.outs, { entries: { web: entry } })).changes, true, "the readiness moved");
    const updated = await statusProvider.update!("status", created.outs, { entries: { web: entry } });
    const ready = (await readObject(c, object))!.status.conditions[0];
    assert.equal(ready.status, "False");
    assert.match(ready.reason, /^(Progressing|NotReady)$/);
    assert.deepEqual(updated.outs.failed, {});
  });
});

describe("parallel writes", () => {
  const many = async (namespace: string, count: number) => {
    const entries: Record<string, ReturnType<typeof entryFor>> = {};
    await Promise.all(Array.from({ length: count }, async (_, i) => {
      const object = await create(c, custom(`ts-${i}`, namespace));
      entries[`ts-${i}`] = entryFor(object);
    }));
    return entries;
  };
  const noLive: LiveApi = { readDeployment: async () => undefined, firstPod: async () => undefined };

  test("writes go out several at once, never more than the bound, and every one lands", async () => {
    const namespace = await freshNamespace(c, "status-parallel");
    const entries = await many(namespace, 40);
    let inFlight = 0;
    let most = 0;
    const counting: StatusApi = {
      getNamespacedCustomObject: (request) => api.getNamespacedCustomObject(request),
      replaceNamespacedCustomObjectStatus: async (request) => {
        most = Math.max(most, ++inFlight);
        try {
          return await api.replaceNamespacedCustomObjectStatus(request);
        } finally {
          inFlight--;
        }
      },
    };
    const result = await writeStatuses(counting, noLive, entries);
    assert.deepEqual([result.missing, result.failed], [[], {}]);
    assert.ok(most > 1 && most <= WRITE_CONCURRENCY, `${most} writes at once`);
    for (let i = 0; i < 40; i++) assert.equal((await readObject(c, custom(`ts-${i}`, namespace)))!.status.observedGeneration, 1);
  });

  test("one object's refused write does not stop the others nor throw; the next run writes it again", async () => {
    const namespace = await freshNamespace(c, "status-partial");
    const entries = await many(namespace, 5);
    // The API server refuses this status: the schema wants an integer.
    const broken = { ...entries["ts-2"], status: { ...entries["ts-2"].status, observedGeneration: "one" as unknown as number } };
    const result = await writeStatuses(api, noLive, { ...entries, "ts-2": broken });
    assert.deepEqual(Object.keys(result.failed), ["ts-2"]);
    assert.match(result.failed["ts-2"], /^422: /);
    for (const i of [0, 1, 3, 4]) assert.ok((await readObject(c, custom(`ts-${i}`, namespace)))!.status, `ts-${i} is written`);
    assert.equal((await readObject(c, custom("ts-2", namespace)))!.status, undefined);
    const previous = { entries: { ...entries, "ts-2": broken }, live: result.live, failed: result.failed };
    const retried = await writeStatuses(api, noLive, entries, previous);
    assert.deepEqual(retried.failed, {});
    assert.equal((await readObject(c, custom("ts-2", namespace)))!.status.observedGeneration, 1);
  });

  test("a writer refused everywhere (403 with a service account's own token) fails the run, naming the objects", async () => {
    const namespace = await freshNamespace(c, "status-denied");
    const entries = await many(namespace, 3);
    await create(c, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "nobody", namespace } });
    const token = await serviceAccountToken(c, namespace, "nobody");
    const config = new k8s.KubeConfig();
    config.loadFromClusterAndUser({ name: "test", server: c.server, skipTLSVerify: true }, { name: "nobody", token });
    await assert.rejects(writeStatuses(config.makeApiClient(k8s.CustomObjectsApi), liveApiFrom(config), entries), (error: Error) =>
      /could not write the status of any of 3 object\(s\)/.test(error.message) && /ts-0: 403/.test(error.message));
  });
});

describe("cluster reads", () => {
  test("one LIST per kind, oldest first; limited to the configured namespaces; TLS Secrets by metadata", async () => {
    const one = await freshNamespace(c, "read-one");
    const two = await freshNamespace(c, "read-two");
    await create(c, custom("first", two));
    await new Promise((resolve) => setTimeout(resolve, 1100)); // creationTimestamp has one-second resolution
    await create(c, custom("second", one));
    await create(c, { apiVersion: "app.kubebuilder.io/v1", kind: "EasyService", metadata: { name: "web", namespace: one }, spec: { size: 1, image: "nginx" } });
    const tls = { "tls.crt": Buffer.from("c").toString("base64"), "tls.key": Buffer.from("k").toString("base64") };
    await create(c, { apiVersion: "v1", kind: "Secret", metadata: { name: "second", namespace: one }, type: "kubernetes.io/tls", data: tls });
    await create(c, { apiVersion: "v1", kind: "Secret", metadata: { name: "ours", namespace: one, labels: { "app.kubernetes.io/managed-by": "crdstack" } }, type: "kubernetes.io/tls", data: tls });
    const all = await readCluster(c.config, [one, two]);
    assert.deepEqual(all.objects.map((o) => `${o.kind} ${o.raw.metadata.namespace}/${o.raw.metadata.name}`), [`TrackingServer ${two}/first`, `TrackingServer ${one}/second`, `EasyService ${one}/web`]);
    assert.deepEqual([...all.tlsSecrets], [`${one}/second`]);
    const only = await readCluster(c.config, [one]);
    assert.deepEqual(only.objects.map((o) => o.raw.metadata.name).sort(), ["second", "web"]);
    const everywhere = await readCluster(c.config, []);
    assert.ok(everywhere.objects.length >= 3);
  });
});
