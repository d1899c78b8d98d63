// The status writer (the dynamic provider's work) and the cluster reads, against a real API server.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { statusEntry } from "../../builders/status";
import { crdManifests } from "../../model/crd";
import { StatusApi, statusProvider, writeStatus, writeStatuses } from "../../providers/status";
import { readCluster } from "../../sources/cluster";
import { trackingServer } from "../helpers";
import { apply, Cluster, create, freshNamespace, installCrds, KubeObject, readObject, remove, useCluster } from "./cluster";

let c: Cluster;
let api: k8s.CustomObjectsApi;
before(async () => {
  c = await useCluster();
  await installCrds(c, crdManifests() as KubeObject[]);
  api = c.config.makeApiClient(k8s.CustomObjectsApi);
});

const custom = (name: string, namespace: string, spec: Record<string, unknown> = {}, labels?: Record<string, string>): KubeObject =>
  ({ apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: { name, namespace, ...(labels ? { labels } : {}) }, spec });

function entryFor(object: KubeObject, problems: { path: string; message: string }[] = []) {
  const parsed = trackingServer(object.spec, object.metadata.name, object.metadata.namespace);
  return statusEntry(
    { kind: "TrackingServer", namespace: object.metadata.namespace!, name: object.metadata.name, uid: object.metadata.uid, generation: object.metadata.generation, problems, applied: problems.length ? undefined : parsed },
    { replicas: 1, readyReplicas: 1 },
  );
}

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
    const missing = await writeStatuses(api, { x: missingCrd });
    assert.deepEqual(missing, ["x"]);
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
