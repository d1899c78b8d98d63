import assert from "node:assert/strict";
import { test } from "node:test";
import { planObjects } from "../../model/reconcile";
import { formatError } from "../../model/specs";
import { PEM } from "../helpers";

const ts = (name: string, spec: Record<string, unknown>) => ({ apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: { name, namespace: "a" }, spec });

test("an object kept on its last applied spec keeps its children's names: a newcomer taking one is rejected, in either order", () => {
  const invalid = { raw: ts("a", { size: -1 }), lastAppliedSpec: { size: 1 } };
  const taker = { raw: ts("a-credentials", PEM) };
  for (const candidates of [[invalid, taker], [taker, invalid]]) {
    const { planned, errors } = planObjects(candidates);
    const byName = Object.fromEntries(planned.map((p) => [p.ref.name, p]));
    assert.equal(byName.a.fallback, true);
    assert.equal(byName["a-credentials"].applied, undefined, "the newcomer declares nothing");
    assert.ok(errors.map(formatError).includes('TrackingServer a/a-credentials: metadata.name: "a-credentials" would make the Secret "a-credentials", which TrackingServer a/a already has'));
  }
});

test("an object kept on its last applied spec keeps its URL's host and its NodePorts: a newcomer taking one is rejected, in either order", () => {
  const es = (name: string, spec: Record<string, unknown>) => ({ apiVersion: "app.kubebuilder.io/v1", kind: "EasyService", metadata: { name, namespace: "b" }, spec });
  // Each kept object's current spec is invalid now (size 2 on SQLite, a second port without a name).
  const keptServer = { raw: ts("old", { size: 2, url: "https://ml.example.com" }), lastAppliedSpec: { size: 1, url: "https://ml.example.com" } };
  const port = { port: 80, nodePort: 31005 };
  const keptService = { raw: es("web", { size: 1, image: "nginx", ports: [port, { port: 81 }] }), lastAppliedSpec: { size: 1, image: "nginx", ports: [port] } };
  const hostTaker = { raw: ts("new", { url: "https://ml.example.com/team" }) };
  const portTaker = { raw: es("api", { size: 1, image: "nginx", ports: [port] }) };
  for (const candidates of [[keptServer, keptService, hostTaker, portTaker], [hostTaker, portTaker, keptServer, keptService]]) {
    const { planned, errors } = planObjects(candidates);
    const byName = Object.fromEntries(planned.map((p) => [p.ref.name, p]));
    assert.equal(byName.old.fallback, true);
    assert.equal(byName.web.fallback, true);
    assert.equal(byName.new.applied, undefined, "the newcomer declares nothing");
    assert.equal(byName.api.applied, undefined, "the newcomer declares nothing");
    const lines = errors.map(formatError);
    assert.ok(lines.some((line) => line.startsWith("TrackingServer a/new: spec.url: the host ml.example.com already serves the REST API (/api) of TrackingServer a/old")), lines.join("\n"));
    assert.ok(lines.includes("EasyService b/api: spec.ports[0].nodePort: 31005 is already used by EasyService b/web"), lines.join("\n"));
  }
});

test("an object sent back to its last applied spec holds that spec's claims too: a third object taking them is rejected", () => {
  const at = (name: string, url: string, size = 1) => ts(name, { size, url });
  // C is kept on h2 (its current spec is invalid); A moves from h1 to h2, so A is kept on h1; B takes h1.
  const c = { raw: at("c", "https://h2.example.com", 2), lastAppliedSpec: { url: "https://h2.example.com" } };
  const a = { raw: at("a", "https://h2.example.com/a"), lastAppliedSpec: { url: "https://h1.example.com" } };
  const b = { raw: at("b", "https://h1.example.com/b") };
  const { planned, errors } = planObjects([c, a, b]);
  const byName = Object.fromEntries(planned.map((p) => [p.ref.name, p]));
  assert.equal(byName.a.fallback, true);
  assert.equal(byName.a.applied?.kind === "TrackingServer" && byName.a.applied.spec.url, "https://h1.example.com");
  assert.equal(byName.b.applied, undefined, "b declares nothing: h1 is a's");
  assert.ok(errors.map(formatError).some((line) => line.startsWith("TrackingServer a/b: spec.url: the host h1.example.com already serves the REST API (/api) of TrackingServer a/a")), errors.map(formatError).join("\n"));
});
