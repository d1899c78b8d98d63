// The watcher's pure parts: what counts as a change, and how bursts are coalesced.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
const { Tracker, Debouncer, stackFor, readConfig, collection, KINDS } = require("../../watcher/watcher.js") as typeof import("../../watcher/watcher.js");

const object = (uid: string, generation: number, resourceVersion = "1", deletionTimestamp?: string) => ({ metadata: { uid, namespace: "a", name: uid, generation, resourceVersion, ...(deletionTimestamp ? { deletionTimestamp } : {}) } });

describe("Tracker", () => {
  test("created, updated (new generation) and deleted are changes; same-generation writes are not", () => {
    const tracker = new Tracker("TrackingServer");
    tracker.relist([object("x", 1)], "10");
    assert.equal(tracker.apply({ type: "ADDED", object: object("y", 1, "11") })?.type, "created");
    assert.equal(tracker.apply({ type: "MODIFIED", object: object("y", 1, "12") }), undefined, "a status or metadata write keeps the generation");
    assert.equal(tracker.apply({ type: "MODIFIED", object: object("y", 2, "13") })?.type, "updated");
    assert.equal(tracker.apply({ type: "DELETED", object: object("x", 1, "14") })?.type, "deleted");
    assert.equal(tracker.apply({ type: "BOOKMARK", object: { metadata: { resourceVersion: "20" } } }), undefined);
    assert.equal(tracker.resourceVersion, "20");
  });

  test("the start of a deletion (deletionTimestamp set) is a change, once", () => {
    const tracker = new Tracker("TrackingServer");
    tracker.relist([object("x", 1)], "10");
    assert.equal(tracker.apply({ type: "MODIFIED", object: object("x", 1, "11", "2026-01-01T00:00:00Z") })?.type, "deleting");
    assert.equal(tracker.apply({ type: "MODIFIED", object: object("x", 1, "12", "2026-01-01T00:00:00Z") }), undefined, "a finalizer removed meanwhile");
    assert.equal(tracker.apply({ type: "DELETED", object: object("x", 1, "13", "2026-01-01T00:00:00Z") })?.type, "deleted");
  });

  test("for a child, every event is a change (status and drift included); a relist reports any new resourceVersion", () => {
    const tracker = new Tracker("Deployment", true);
    tracker.relist([object("d", 1, "10"), object("same", 1, "10")], "10");
    assert.equal(tracker.apply({ type: "MODIFIED", object: object("d", 1, "11") })?.type, "updated", "a status write keeps the generation, and still counts");
    assert.equal(tracker.apply({ type: "DELETED", object: object("d", 1, "12") })?.type, "deleted");
    assert.equal(tracker.apply({ type: "ADDED", object: object("d2", 1, "13") })?.type, "created");
    const changes = tracker.relist([object("d2", 1, "14"), object("same", 1, "10")], "20");
    assert.deepEqual(changes.map((c) => `${c.type} ${c.name}`), ["updated d2"]);
  });

  test("a relist after an expired watch reports what changed meanwhile", () => {
    const tracker = new Tracker("EasyService");
    tracker.relist([object("kept", 1), object("edited", 1), object("gone", 1)], "10");
    const changes = tracker.relist([object("kept", 1), object("edited", 2), object("new", 1)], "30");
    assert.deepEqual(changes.map((c) => `${c.type} ${c.name}`).sort(), ["created new", "deleted gone", "updated edited"]);
    assert.equal(tracker.resourceVersion, "30");
  });
});

describe("routing", () => {
  test("a namespace goes to the Stack that lists it; no Stack serves the others", () => {
    const config = { debounceMs: 0, maxWaitMs: 0, stacks: [{ namespace: "ops", name: "red", namespaces: ["r"] }, { namespace: "ops", name: "blue", namespaces: ["b"] }] };
    assert.equal(stackFor(config, "r")?.name, "red");
    assert.equal(stackFor(config, "b")?.name, "blue");
    assert.equal(stackFor(config, "other"), undefined);
  });

  test("a Stack of no namespaces is refused: the watcher has no cluster-wide rights", () => {
    const saved = process.env.WATCHER_CONFIG;
    try {
      process.env.WATCHER_CONFIG = JSON.stringify({ stacks: [{ namespace: "ops", name: "all", namespaces: [] }] });
      assert.throws(() => readConfig(), /stack ops\/all lists no namespaces/);
    } finally {
      if (saved === undefined) delete process.env.WATCHER_CONFIG;
      else process.env.WATCHER_CONFIG = saved;
    }
  });

  test("it lists per namespace; children only with crdstack's managed-by label; never Secrets", () => {
    const byKind = Object.fromEntries(KINDS.map((kind) => [kind.kind, collection(kind, "team")]));
    assert.deepEqual(byKind.TrackingServer, { path: "/apis/experiment.aiscope/v1alpha2/namespaces/team/trackingservers", query: "" });
    assert.deepEqual(byKind.Deployment, { path: "/apis/apps/v1/namespaces/team/deployments", query: "labelSelector=app.kubernetes.io%2Fmanaged-by%3Dcrdstack&" });
    assert.deepEqual(Object.keys(byKind).sort(), ["Deployment", "EasyService", "Ingress", "PersistentVolumeClaim", "Service", "TrackingServer"]);
  });
});

describe("Debouncer", () => {
  const stacks = [{ namespace: "ops", name: "crdstack", namespaces: ["a"] }];
  const change = (name: string) => ({ type: "created" as const, kind: "EasyService", namespace: "a", name });

  test("a burst becomes one trigger with every change, debounceMs after the last", async () => {
    const fired: { at: number; count: number }[] = [];
    const debouncer = new Debouncer({ debounceMs: 50, maxWaitMs: 1000, stacks }, async (_stack, changes) => void fired.push({ at: Date.now(), count: changes.length }));
    const start = Date.now();
    for (let i = 0; i < 10; i++) {
      debouncer.add(change(`s${i}`));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(fired.length, 1);
    assert.equal(fired[0].count, 10);
    assert.ok(fired[0].at - start >= 100, "it waited for the burst to end");
  });

  test("a steady stream still triggers every maxWaitMs", async () => {
    const fired: number[] = [];
    const debouncer = new Debouncer({ debounceMs: 50, maxWaitMs: 100, stacks }, async (_stack, changes) => void fired.push(changes.length));
    for (let i = 0; i < 30; i++) {
      debouncer.add(change(`s${i}`));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.ok(fired.length >= 2, `${fired.length} triggers`);
    assert.equal(fired.reduce((a, b) => a + b, 0), 30);
  });
});
