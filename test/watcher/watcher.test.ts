// The watcher's pure parts: what counts as a change, and how bursts are coalesced.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
const { Tracker, Debouncer, stackFor } = require("../../watcher/watcher.js") as typeof import("../../watcher/watcher.js");

const object = (uid: string, generation: number, resourceVersion = "1") => ({ metadata: { uid, namespace: "a", name: uid, generation, resourceVersion } });

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

  test("a relist after an expired watch reports what changed meanwhile", () => {
    const tracker = new Tracker("EasyService");
    tracker.relist([object("kept", 1), object("edited", 1), object("gone", 1)], "10");
    const changes = tracker.relist([object("kept", 1), object("edited", 2), object("new", 1)], "30");
    assert.deepEqual(changes.map((c) => `${c.type} ${c.name}`).sort(), ["created new", "deleted gone", "updated edited"]);
    assert.equal(tracker.resourceVersion, "30");
  });
});

describe("routing", () => {
  test("a namespace goes to the shard that lists it, else to the Stack that lists none", () => {
    const config = { debounceMs: 0, maxWaitMs: 0, stacks: [{ namespace: "ops", name: "red", namespaces: ["r"] }, { namespace: "ops", name: "all", namespaces: [] }] };
    assert.equal(stackFor(config, "r")?.name, "red");
    assert.equal(stackFor(config, "other")?.name, "all");
    assert.equal(stackFor({ ...config, stacks: [config.stacks[0]] }, "other"), undefined);
  });
});

describe("Debouncer", () => {
  const stacks = [{ namespace: "ops", name: "crdstack", namespaces: [] }];
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
