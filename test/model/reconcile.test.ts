import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { existingObject, indexExisting } from "../../model/existing";
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

describe("what the cluster holds decides per-object problems", () => {
  const es = (name: string, namespace = "a") => ({ apiVersion: "app.kubebuilder.io/v1", kind: "EasyService", metadata: { name, namespace, uid: `uid-${name}` }, spec: { size: 1, image: "nginx" } });
  const unmanaged = (name: string) => existingObject("Deployment", { name, namespace: "a" });

  test("an object whose child exists and is not its own is declared from its last applied spec; the others carry on", () => {
    // The current spec adds a URL, whose Ingress someone else has; the last applied one has none.
    const server = { ...ts("taken", { url: "https://ml.example.com" }), metadata: { name: "taken", namespace: "a", uid: "uid-taken" } };
    const ingress = existingObject("Ingress", { name: "taken", namespace: "a" });
    const { planned, errors } = planObjects([{ raw: server, lastAppliedSpec: { size: 1, image: "mlflow:1" } }, { raw: es("fresh") }, { raw: es("never") }], { existing: indexExisting([ingress, unmanaged("never")]) });
    const [taken, fresh, never] = planned;
    assert.equal(taken.fallback, true);
    assert.equal(taken.applied?.kind === "TrackingServer" && taken.applied.spec.image, "mlflow:1");
    assert.deepEqual(taken.problems.map((p) => [p.path, p.reason]), [["spec.url", "Collision"]]);
    assert.equal(never.applied, undefined, "never applied: nothing declared");
    assert.equal(fresh.applied?.kind === "EasyService" && fresh.applied.spec.image, "nginx");
    assert.equal(errors.length, 2);
  });

  test("without what the cluster holds (files source, cluster unreachable) nothing is checked against it", () => {
    const { planned } = planObjects([{ raw: es("taken") }]);
    assert.equal(planned[0].problems.length, 0);
    assert.equal(planned[0].drift, undefined);
  });

  test("a reference to an unlabelled Secret is NotReferable", () => {
    const raw = { ...es("web"), spec: { size: 1, image: "nginx", envs: [{ name: "T", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }] } };
    const { planned } = planObjects([{ raw }], { existing: indexExisting([existingObject("Secret", { name: "s", namespace: "a" })]) });
    assert.deepEqual(planned[0].problems.map((p) => p.reason), ["NotReferable"]);
  });

  test("an object outside crdstack:namespaces gets OutsideNamespaces and declares nothing, even with a last applied spec", () => {
    const { planned, errors } = planObjects([{ raw: es("in", "a") }, { raw: es("out", "b"), lastAppliedSpec: { size: 1, image: "nginx" } }], { namespaces: ["a"] });
    assert.ok(planned[0].applied);
    assert.equal(planned[1].applied, undefined);
    assert.deepEqual(planned[1].problems, [{ path: "metadata.namespace", reason: "OutsideNamespaces", message: '"b" is not one of this stack\'s namespaces (crdstack:namespaces: a): nothing is declared for the object' }]);
    assert.equal(formatError(errors[0]), 'EasyService b/out: metadata.namespace: "b" is not one of this stack\'s namespaces (crdstack:namespaces: a): nothing is declared for the object');
  });

  test("an object being deleted is declared from its last applied spec, whatever its current spec and the API server's refusals say", () => {
    const raw = { ...es("going"), metadata: { ...es("going").metadata, deletionTimestamp: "2026-01-01T00:00:00Z" }, spec: { size: 3, image: "nginx:2" } };
    const refusals = new Map([["EasyService a/going", [{ path: "spec.size", message: "refused", reason: "Forbidden" }]]]);
    const { planned } = planObjects([{ raw, lastAppliedSpec: { size: 1, image: "nginx:1" } }, { raw: es("staying") }], { existing: indexExisting([]), refusals });
    assert.equal(planned[0].deleting, true);
    assert.equal(planned[0].fallback, true);
    assert.equal(planned[0].applied?.kind === "EasyService" && planned[0].applied.spec.image, "nginx:1");
    assert.deepEqual(planned[0].problems, []);
    assert.equal(planned[1].deleting, false);
    const fromFile = planObjects([{ raw: es("file"), deleting: true, lastAppliedSpec: { size: 1, image: "nginx" } }]).planned[0];
    assert.equal(fromFile.deleting, true, "the files source passes the cluster's deletion");
  });

  test("the API server's refusals become the object's problems; drift is reported for children of the last applied spec", () => {
    const refusal = { path: "spec.ports[0].nodePort", message: "taken", reason: "Collision" };
    const own = existingObject("Deployment", { name: "web", namespace: "a", ownerReferences: [{ uid: "uid-web", controller: true }], managedFields: [{ manager: "crdstack", operation: "Apply", time: "2026-01-01T00:00:00Z" }, { manager: "kubectl-edit", operation: "Update", time: "2026-01-01T00:00:01Z" }] });
    const { planned } = planObjects([{ raw: es("web"), lastAppliedSpec: { size: 1, image: "nginx" } }, { raw: es("api") }], { existing: indexExisting([own]), refusals: new Map([["EasyService a/api", [refusal]]]) });
    assert.deepEqual(planned[0].drift, ["Deployment a/web: changed by kubectl-edit"]);
    assert.deepEqual(planned[1].problems, [refusal]);
    assert.equal(planned[1].applied, undefined);
    assert.equal(planned[1].drift, undefined, "never applied: no drift");
  });
});

describe("the last applied spec (status.lastAppliedSpec) is parsed and checked like a current spec", () => {
  const es = (name: string, spec: Record<string, unknown>) => ({ apiVersion: "app.kubebuilder.io/v1", kind: "EasyService", metadata: { name, namespace: "a", uid: `uid-${name}` }, spec });
  const invalid = { size: -1, image: "nginx" };
  const secretEnv = (name: string, optional?: boolean) => ({ size: 1, image: "nginx", envs: [{ name: "T", valueFrom: { secretKeyRef: { name, key: "k", ...(optional === undefined ? {} : { optional }) } } }] });
  const SIZE_PROBLEM = { path: "spec.size", message: "-1 is outside 0-100" };
  const ES_SIZE_PROBLEM = { path: "spec.size", message: "-1 is outside 0-1000" };

  test("masked secret fields parse as (secret) and stay so; the kind's defaults and rules apply", () => {
    // Three replicas are allowed only with a database server in backend_uri, which the status masks; the key is checked against the certificate only when it parses.
    const masked = { size: 3, backend_uri: "(secret)", artifact_root: "s3://bucket", aws_access_key: "(secret)", aws_secret_key: "(secret)", cert: PEM.cert, key: "(secret)" };
    const { planned } = planObjects([{ raw: ts("m", { size: -1 }), lastAppliedSpec: masked }], { existing: indexExisting([]) });
    assert.deepEqual(planned[0].problems, [SIZE_PROBLEM]);
    assert.equal(planned[0].fallback, true);
    assert.deepEqual(planned[0].applied?.spec, masked);
    const defaults = planObjects([{ raw: ts("d", { size: -1 }), lastAppliedSpec: {} }]).planned[0];
    assert.deepEqual(defaults.applied?.spec, { size: 1 }, "the kind's default size");
  });

  test("one that does not parse counts as none: nothing is declared, and a problem on status.lastAppliedSpec says why, never quoting a secret field", () => {
    const forged = { size: 3, image: "nginx", backend_uri: "postgresql://admin:hunter2@db/mlflow", extra: true };
    const { planned, errors } = planObjects([{ raw: ts("f", { size: -1 }), lastAppliedSpec: forged }]);
    assert.equal(planned[0].applied, undefined);
    assert.equal(planned[0].fallback, false);
    assert.deepEqual(planned[0].problems, [SIZE_PROBLEM, {
      path: "status.lastAppliedSpec",
      reason: "InvalidLastAppliedSpec",
      message: "is not a valid TrackingServer spec (backend_uri: must read (secret): the status never holds a secret value; extra: is not a known field): it counts as no last applied spec, so nothing is declared from it",
    }]);
    assert.ok(!errors.map(formatError).join("\n").includes("hunter2"));
    const rules = planObjects([{ raw: ts("r", { size: -1 }), lastAppliedSpec: { size: 2 } }]).planned[0];
    assert.equal(rules.applied, undefined, "the rules between fields apply: two replicas on SQLite");
    assert.match(rules.problems[1].message, /^is not a valid TrackingServer spec \(size: 2 replicas with the default SQLite backend would each have a database of their own/);
    const name = planObjects([{ raw: { ...es("trackingserver", invalid) }, lastAppliedSpec: { size: 1, image: "nginx" } }]).planned[0];
    assert.equal(name.applied, undefined, "an EasyService named trackingserver has no last applied spec either");
  });

  test("one that names a Secret not labelled referable declares nothing, with a NotReferable problem on status.lastAppliedSpec", () => {
    const existing = indexExisting([existingObject("Secret", { name: "loot", namespace: "a" })]);
    const { planned } = planObjects([{ raw: es("web", invalid), lastAppliedSpec: secretEnv("loot", true) }], { existing });
    assert.equal(planned[0].applied, undefined);
    assert.equal(planned[0].fallback, false);
    assert.deepEqual(planned[0].problems, [ES_SIZE_PROBLEM, {
      path: "status.lastAppliedSpec.envs[0].valueFrom.secretKeyRef.name",
      reason: "NotReferable",
      message: 'Secret a/loot does not allow specs to name it (the variable T): it needs the label crdstack.io/referable: "true", which whoever owns it may add (kubectl label secret loot -n a crdstack.io/referable=true); the last applied spec has this problem too, so nothing is declared for the object: its children stay in the cluster as they are, no longer updated, until the spec is fixed',
    }]);
    assert.equal(planned[0].drift, undefined);
    const labelled = indexExisting([existingObject("Secret", { name: "loot", namespace: "a", labels: { "crdstack.io/referable": "true" } })]);
    assert.equal(planObjects([{ raw: es("web", invalid), lastAppliedSpec: secretEnv("loot", true) }], { existing: labelled }).planned[0].fallback, true, "labelled: the fallback stands");
  });

  test("one whose optional Secret does not exist, or whose child is not its own, declares nothing", () => {
    const missing = planObjects([{ raw: es("web", invalid), lastAppliedSpec: secretEnv("later", true) }], { existing: indexExisting([]) }).planned[0];
    assert.equal(missing.applied, undefined);
    assert.deepEqual(missing.problems.map((p) => [p.path, p.reason]), [["spec.size", undefined], ["status.lastAppliedSpec.envs[0].valueFrom.secretKeyRef.name", "NotFound"]]);
    const taken = planObjects([{ raw: es("web", invalid), lastAppliedSpec: { size: 1, image: "nginx" } }], { existing: indexExisting([existingObject("Deployment", { name: "web", namespace: "a" })]) }).planned[0];
    assert.equal(taken.applied, undefined);
    assert.deepEqual(taken.problems.map((p) => [p.path, p.reason]), [["spec.size", undefined], ["metadata.name", "Collision"]]);
  });

  test("an object being deleted, or sent back to its last applied spec by a taker of kept names, gets the same checks", () => {
    const existing = indexExisting([existingObject("Secret", { name: "loot", namespace: "a" })]);
    const going = { ...es("going", { size: 1, image: "nginx" }), metadata: { name: "going", namespace: "a", uid: "uid-going", deletionTimestamp: "2026-01-01T00:00:00Z" } };
    const deleting = planObjects([{ raw: going, lastAppliedSpec: secretEnv("loot") }], { existing }).planned[0];
    assert.equal(deleting.deleting, true);
    assert.equal(deleting.applied, undefined);
    assert.deepEqual(deleting.problems.map((p) => p.reason), ["NotReferable"]);
    // b is kept on its last applied spec (its current one is invalid) and holds port 31001; a asks for it and falls back on a spec naming loot.
    const port = (nodePort: number) => ({ port: 80, nodePort });
    const b = { raw: es("b", { size: -1, image: "nginx" }), lastAppliedSpec: { size: 1, image: "nginx", ports: [port(31001)] } };
    const a = { raw: es("a", { size: 1, image: "nginx", ports: [port(31001)] }), lastAppliedSpec: { ...secretEnv("loot"), ports: [port(31002)] } };
    const [, moved] = planObjects([b, a], { existing }).planned;
    assert.equal(moved.applied, undefined);
    assert.deepEqual(moved.problems.map((p) => [p.path, p.reason]), [["spec.ports[0].nodePort", undefined], ["status.lastAppliedSpec.envs[0].valueFrom.secretKeyRef.name", "NotReferable"]]);
  });
});
