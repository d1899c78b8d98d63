// In the cluster: the companion objects against a real API server with the operator's published Stack
// CRD, the workspace's least-privilege RBAC, and the watcher running under a token with only its RBAC.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { stacks, workspaceRbac } from "../../builders/operator";
import { ORIGINAL_FINALIZER } from "../../model/takeover";
import { statusEntry } from "../../builders/status";
import { run } from "../../cli/main";
import { crdManifests } from "../../model/crd";
import { writeStatus } from "../../providers/status";
import { readCluster } from "../../sources/cluster";
import { documentsOf, ROOT, trackingServer } from "../helpers";
import { apply, Cluster, create, eventually, freshNamespace, installCrds, KubeObject, readObject, remove, useCluster } from "./cluster";
import { deployWatcher, installStackCrd, operatorConfig, recordingProxy, RecordingProxy, requestOf, RunningWatcher, serviceAccountDir, serviceAccountToken, startWatcher } from "./operatorSetup";

let c: Cluster;
before(async () => {
  c = await useCluster();
  await installCrds(c, crdManifests() as KubeObject[]);
  await installStackCrd(c);
});

const ts = (namespace: string, name: string, spec: Record<string, unknown> = {}): KubeObject => ({ apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: { name, namespace }, spec });
const es = (namespace: string, name: string, size = 1): KubeObject => ({ apiVersion: "app.kubebuilder.io/v1", kind: "EasyService", metadata: { name, namespace }, spec: { size, image: "nginx" } });

describe("companion objects", () => {
  test("render --operator prints objects the API server creates, and the Stacks pass the published Stack CRD field for field", async () => {
    const result = run(["render", "--operator", path.join(ROOT, "Pulumi.operator.yaml")]);
    assert.equal(result.code, 0, result.stderr);
    const manifests = documentsOf(result.stdout) as KubeObject[];
    assert.deepEqual([...new Set(manifests.map((m) => m.kind))], ["Namespace", "ServiceAccount", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "Stack", "Role", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ConfigMap", "Deployment"]);
    // The tenants' namespaces Pulumi.operator.yaml lists: RoleBindings go there.
    for (const name of ["team-a", "team-b"]) await apply(c, { apiVersion: "v1", kind: "Namespace", metadata: { name } });
    for (const manifest of manifests) {
      // Applied, not created: cluster-scoped objects of the same names (the ClusterRoles) may come from
      // another test file of the run.
      const created = await apply(c, manifest);
      // A structural schema drops fields it does not know: what comes back must be what was sent.
      if (manifest.kind === "Stack") assert.deepEqual(created.spec, manifest.spec);
    }
  });

  test("render --operator resolves a namespaceSelector with the caller's kubeconfig, leaving out reserved namespaces even when labelled", async () => {
    const label = { "crdstack-test/render": "yes" };
    for (const [name, labels] of [["sel-a", label], ["sel-b", label], ["sel-c", {}], ["sel-ops", label]] as const) await create(c, { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } });
    await c.request("PATCH", "/api/v1/namespaces/kube-node-lease", { metadata: { labels: label } }, "application/merge-patch+json");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "crdstack-render-"));
    const render = async (selector: object) => {
      const file = path.join(dir, "Pulumi.boot.yaml");
      fs.writeFileSync(file, JSON.stringify({ config: { "crdstack:operator": { namespace: "sel-ops", repo: "https://github.com/example-org/crdstack.git", namespaceSelector: selector } } }));
      // The command line, as a user runs it: `npm run render -- --operator <file>`.
      return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, ["--import", "tsx", path.join(ROOT, "cli", "main.ts"), "render", "--operator", file], { env: { ...process.env, KUBECONFIG: c.kubeconfig } }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }));
      });
    };
    try {
      const result = await render({ matchLabels: label });
      assert.equal(result.code, 0, result.stderr);
      const manifests = documentsOf(result.stdout) as KubeObject[];
      const bound = manifests.filter((m) => m.kind === "RoleBinding" && m.roleRef.kind === "ClusterRole").map((m) => `${m.metadata.namespace}/${m.metadata.name}`);
      assert.deepEqual(bound, ["sel-a/crdstack-workspace", "sel-b/crdstack-workspace", "sel-a/crdstack-watcher", "sel-b/crdstack-watcher"]);
      assert.deepEqual(manifests.find((m) => m.kind === "Stack")!.spec.config["crdstack:namespaces"], ["sel-a", "sel-b"]);
      const none = await render({ matchLabels: { "crdstack-test/render": "nobody" } });
      assert.equal(none.code, 2);
      assert.match(none.stderr, /crdstack:operator\.namespaceSelector: crdstack-test\/render=nobody selects no namespace crdstack may serve/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await c.request("PATCH", "/api/v1/namespaces/kube-node-lease", { metadata: { labels: { "crdstack-test/render": null } } }, "application/merge-patch+json");
    }
  });

  test("sharded: one Stack per shard, each limited to its namespaces, with RoleBindings instead of a ClusterRoleBinding", async () => {
    const operator = operatorConfig({ namespace: "ops-sharded", shards: [{ name: "red", namespaces: ["red-1", "red-2"] }, { name: "blue", namespaces: ["blue"] }] });
    await create(c, { apiVersion: "v1", kind: "Namespace", metadata: { name: "ops-sharded" } });
    for (const stack of stacks(operator)) {
      const created = await create(c, stack as KubeObject);
      assert.deepEqual(created.spec, stack.spec);
    }
    const [red, blue] = stacks(operator);
    assert.deepEqual([red.metadata.name, (red.spec as any).stack, (red.spec as any).config["crdstack:namespaces"]], ["crdstack-red", "cluster-red", ["red-1", "red-2"]]);
    assert.deepEqual((blue.spec as any).config["crdstack:namespaces"], ["blue"]);
    const bindings = workspaceRbac(operator).filter((m) => m.apiVersion.startsWith("rbac.") && m.kind.endsWith("Binding")).map((m) => `${m.kind} ${m.metadata.namespace ?? ""}/${m.metadata.name}`);
    assert.deepEqual(bindings, ["RoleBinding red-1/crdstack-workspace", "RoleBinding red-2/crdstack-workspace", "RoleBinding blue/crdstack-workspace", "ClusterRoleBinding /crdstack-workspace-auth-delegator"]);
  });

  test("the workspace's RBAC allows what the program does, and not more; with takeover, only the release of the originals' marks on top", async () => {
    const team = await freshNamespace(c, "rbac-team");
    const operator = operatorConfig({ namespace: "ops-rbac", takeover: true, namespaces: [team] });
    await create(c, { apiVersion: "v1", kind: "Namespace", metadata: { name: operator.namespace } });
    for (const manifest of workspaceRbac(operator)) await apply(c, manifest as KubeObject);
    const marked = ts(team, "mlflow");
    const object = await create(c, { ...marked, metadata: { ...marked.metadata, finalizers: [ORIGINAL_FINALIZER, "example.com/keep"], annotations: { note: "a tenant's" } } } as KubeObject);
    const token = await serviceAccountToken(c, operator.namespace, "crdstack-workspace");
    const config = new k8s.KubeConfig();
    config.loadFromClusterAndUser({ name: "test", server: c.server, skipTLSVerify: true }, { name: "workspace", token });

    const state = await readCluster(config, [team]);
    assert.ok(state.objects.some((o) => o.raw.metadata.name === "mlflow"));
    await assert.rejects(readCluster(config, []), (error: any) => error.code === 403, "no cluster-wide list");
    const api = config.makeApiClient(k8s.CustomObjectsApi);
    const entry = statusEntry({ kind: "TrackingServer", namespace: team, name: "mlflow", uid: object.metadata.uid, problems: [], applied: trackingServer({}, "mlflow", team) }, undefined);
    assert.equal(await writeStatus(api, entry, new Date().toISOString()), "written");
    const apps = config.makeApiClient(k8s.AppsV1Api);
    await apps.createNamespacedDeployment({ namespace: team, body: { metadata: { name: "d" }, spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "nginx" }] } } } } });

    const denied = async (what: string, call: () => Promise<unknown>, code = 403) => {
      await assert.rejects(call(), (error: any) => error.code === code, what);
    };
    /** Refused by the admission policy, which answers 422 (a 403 would read as a missing right). */
    const refused = (what: string, call: () => Promise<unknown>) => denied(what, call, 422);
    const patch = (body: object) => api.patchNamespacedCustomObject({ group: "experiment.aiscope", version: "v1alpha2", namespace: team, plural: "trackingservers", name: "mlflow", body }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch));
    // A new admission policy takes effect within a moment.
    let version = 0;
    const anotherImage = () => ({ spec: { image: `example.com/mlflow:${version++}` } });
    await eventually("the policy in force", async () => (await patch(anotherImage()).then(() => false, (error: any) => error.code === 422)) || undefined);
    await refused("changing a spec", () => patch(anotherImage()));
    await refused("labelling a custom resource", () => patch({ metadata: { labels: { team: "b" } } }));
    await refused("adding a finalizer", () => patch({ metadata: { finalizers: ["example.com/hold"] } }));
    await refused("removing a tenant's annotation", () => patch({ metadata: { annotations: { note: null } } }));
    // What a take-over does: the original controller's finalizer and annotation go.
    await patch({ metadata: { finalizers: ["example.com/keep"] } });
    const path = `/apis/experiment.aiscope/v1alpha2/namespaces/${team}/trackingservers/mlflow`;
    assert.deepEqual((await c.request("GET", path)).metadata.finalizers, ["example.com/keep"]);
    await c.request("PATCH", path, { metadata: { finalizers: null } }, "application/merge-patch+json");
    await denied("creating a custom resource", () => api.createNamespacedCustomObject({ group: "experiment.aiscope", version: "v1alpha2", namespace: team, plural: "trackingservers", body: ts(team, "other") }));
    await denied("changing CRDs", () => config.makeApiClient(k8s.ApiextensionsV1Api).deleteCustomResourceDefinition({ name: "trackingservers.experiment.aiscope" }));
    await denied("listing namespaces", () => config.makeApiClient(k8s.CoreV1Api).listNamespace());
    await denied("changing RBAC", () => config.makeApiClient(k8s.RbacAuthorizationV1Api).deleteClusterRole({ name: "crdstack-workspace" }));
  });
});

describe("watcher", () => {
  const operator = operatorConfig({ namespace: "ops-watch", shards: [{ name: "a", namespaces: ["watch-a"] }, { name: "b", namespaces: ["watch-b"] }] });
  const A = "ops-watch/crdstack-a";
  const B = "ops-watch/crdstack-b";
  let watcher: RunningWatcher;
  let proxy: RecordingProxy;

  before(async () => {
    await freshNamespace(c, "watch-a");
    await freshNamespace(c, "watch-b");
    await create(c, ts("watch-a", "existing"));
    // Through a proxy that records what the watcher asks for.
    proxy = await recordingProxy(c);
    watcher = await deployWatcher(c, operator, stacks(operator) as KubeObject[], proxy);
    await watcher.waitFor(/ ready: watching TrackingServer, EasyService, Deployment, Service, PersistentVolumeClaim, Ingress in watch-a, watch-b /);
    // The start-up trigger of each Stack catches up with what changed while no watcher ran.
    await watcher.waitFor(/ trigger ops-watch\/crdstack-a /);
    await watcher.waitFor(/ trigger ops-watch\/crdstack-b /);
  });
  after(async () => {
    await watcher?.stop();
    await proxy?.close();
  });

  /** Runs `change` and returns the triggers of each Stack in the next `quietMs`. */
  async function triggersAfter(change: () => Promise<unknown>, quietMs = 1500) {
    const from = watcher.lines.length;
    await change();
    await new Promise((resolve) => setTimeout(resolve, quietMs));
    return { a: watcher.triggers(A, from), b: watcher.triggers(B, from) };
  }

  test("a create triggers the Stack that owns the namespace, and only it", async () => {
    const before = await requestOf(c, "ops-watch", "crdstack-a");
    const { a, b } = await triggersAfter(() => create(c, ts("watch-a", "new")));
    assert.equal(a.length, 1);
    assert.match(a[0], /1 change\(s\): TrackingServer watch-a\/new created/);
    assert.equal(b.length, 0);
    assert.notEqual(await requestOf(c, "ops-watch", "crdstack-a"), before, "the annotation changed");
  });

  test("a spec update triggers; status and metadata-only writes do not", async () => {
    const update = await triggersAfter(async () => {
      const live = (await readObject(c, ts("watch-a", "new")))!;
      await c.request("PUT", `/apis/experiment.aiscope/v1alpha2/namespaces/watch-a/trackingservers/new`, { ...live, spec: { size: 0 } });
    });
    assert.equal(update.a.length, 1);
    assert.match(update.a[0], /TrackingServer watch-a\/new updated/);
    const quiet = await triggersAfter(async () => {
      const live = (await readObject(c, ts("watch-a", "new")))!;
      await c.request("PUT", `/apis/experiment.aiscope/v1alpha2/namespaces/watch-a/trackingservers/new/status`, { ...live, status: { observedGeneration: 2 } });
      const again = (await readObject(c, ts("watch-a", "new")))!;
      await c.request("PUT", `/apis/experiment.aiscope/v1alpha2/namespaces/watch-a/trackingservers/new`, { ...again, metadata: { ...again.metadata, labels: { team: "a" } } });
    });
    assert.deepEqual(quiet, { a: [], b: [] });
  });

  test("a delete triggers", async () => {
    const { a } = await triggersAfter(() => remove(c, ts("watch-a", "new")));
    assert.equal(a.length, 1);
    assert.match(a[0], /TrackingServer watch-a\/new deleted/);
  });

  test("the start of a deletion held by a finalizer triggers, and so does the end", async () => {
    const held = ts("watch-a", "held");
    await create(c, { ...held, metadata: { ...held.metadata, finalizers: ["example.com/hold"] } });
    await watcher.waitFor(/ trigger ops-watch\/crdstack-a .*TrackingServer watch-a\/held created/);
    const deleting = await triggersAfter(() => remove(c, held));
    assert.equal(deleting.a.length, 1);
    assert.match(deleting.a[0], /TrackingServer watch-a\/held deleting/);
    const deleted = await triggersAfter(() => c.request("PATCH", "/apis/experiment.aiscope/v1alpha2/namespaces/watch-a/trackingservers/held", { metadata: { finalizers: null } }, "application/merge-patch+json"));
    assert.match(deleted.a.join("\n"), /TrackingServer watch-a\/held deleted/);
  });

  const managed = { "app.kubernetes.io/managed-by": "crdstack", "app.kubernetes.io/name": "web" };
  const deployment = (namespace: string, name: string, labels: Record<string, string> = managed): KubeObject => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace, labels },
    spec: { replicas: 0, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "c", image: "nginx" }] } } },
  });
  /** Waits until `stack` has had no trigger for `quietMs` (the controllers' own writes after a change). */
  async function settled(stack: string, quietMs = 1500) {
    for (;;) {
      const from = watcher.lines.length;
      await new Promise((resolve) => setTimeout(resolve, quietMs));
      if (watcher.triggers(stack, from).length === 0) return;
    }
  }

  test("a managed child's create, status change, drift and delete each trigger; an unmanaged Deployment or a Secret does not", async () => {
    const created = await triggersAfter(() => apply(c, deployment("watch-a", "web")));
    assert.match(created.a.join("\n"), /Deployment watch-a\/web created/);
    assert.equal(created.b.length, 0);
    await settled(A);
    // What the deployment controller does when a pod stops being ready: a status write, no new generation.
    const status = await triggersAfter(() => c.request("PATCH", "/apis/apps/v1/namespaces/watch-a/deployments/web/status", { status: { conditions: [{ type: "Available", status: "False", reason: "MinimumReplicasUnavailable", message: "test" }] } }, "application/merge-patch+json"));
    assert.match(status.a.join("\n"), /Deployment watch-a\/web updated/);
    await settled(A);
    const drift = await triggersAfter(() => c.request("PATCH", "/apis/apps/v1/namespaces/watch-a/deployments/web", { spec: { replicas: 2 } }, "application/merge-patch+json"));
    assert.match(drift.a.join("\n"), /Deployment watch-a\/web updated/);
    await settled(A);
    const service: KubeObject = { apiVersion: "v1", kind: "Service", metadata: { name: "web", namespace: "watch-b", labels: managed }, spec: { ports: [{ port: 80 }] } };
    await create(c, service);
    await watcher.waitFor(/ trigger ops-watch\/crdstack-b .*Service watch-b\/web created/);
    const deleted = await triggersAfter(() => remove(c, service));
    assert.match(deleted.b.join("\n"), /Service watch-b\/web deleted/);
    const others = await triggersAfter(async () => {
      await apply(c, deployment("watch-a", "someone-elses", { app: "x" }));
      await create(c, { apiVersion: "v1", kind: "Secret", metadata: { name: "web-credentials", namespace: "watch-a", labels: managed }, stringData: { key: "value" } });
    });
    assert.deepEqual(others, { a: [], b: [] });
  });

  test("no trigger loop: a run that changes nothing (status write on the custom resource, unchanged apply of a child) triggers nothing", async () => {
    await apply(c, deployment("watch-a", "steady"));
    await watcher.waitFor(/ trigger ops-watch\/crdstack-a .*Deployment watch-a\/steady created/);
    await settled(A);
    const quiet = await triggersAfter(async () => {
      const live = (await readObject(c, ts("watch-a", "existing")))!;
      await c.request("PUT", "/apis/experiment.aiscope/v1alpha2/namespaces/watch-a/trackingservers/existing/status", { ...live, status: { observedGeneration: live.metadata.generation } });
      // The provider's server-side apply of an unchanged object: the API server writes nothing.
      const before = (await readObject(c, deployment("watch-a", "steady")))!.metadata.resourceVersion;
      const after = (await apply(c, deployment("watch-a", "steady"))).metadata.resourceVersion;
      assert.equal(after, before, "an unchanged apply does not write");
    }, 2000);
    assert.deepEqual(quiet, { a: [], b: [] });
  });

  test("it asks for metadata only, in its namespaces only: no spec and no cluster-wide request ever reaches it", async () => {
    const reads = proxy.requests.filter((r) => r.method === "GET");
    assert.ok(reads.length >= 12, `${reads.length} reads`);
    for (const read of reads) {
      const watch = /[?&]watch=1/.test(read.path);
      assert.equal(read.accept, `application/json;as=${watch ? "PartialObjectMetadata" : "PartialObjectMetadataList"};g=meta.k8s.io;v=v1`, `${read.path}`);
      assert.match(read.path, /\/namespaces\/watch-[ab]\//, read.path);
    }
    const writes = proxy.requests.filter((r) => r.method !== "GET").map((r) => `${r.method} ${r.path}`);
    assert.deepEqual([...new Set(writes)].sort(), ["PATCH /apis/pulumi.com/v1/namespaces/ops-watch/stacks/crdstack-a", "PATCH /apis/pulumi.com/v1/namespaces/ops-watch/stacks/crdstack-b"]);
  });

  test("a burst of 50 changes gives few triggers, and none is missed: the last trigger follows the last change", async () => {
    const from = watcher.lines.length;
    for (let i = 0; i < 50; i++) await create(c, es("watch-b", `burst-${i}`));
    const lastChange = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const triggers = watcher.triggers(B, from);
    assert.ok(triggers.length >= 1 && triggers.length <= 10, `${triggers.length} triggers`);
    const counted = triggers.reduce((sum, line) => sum + Number(/: (\d+) change\(s\)/.exec(line)![1]), 0);
    assert.equal(counted, 50, "every change is in a trigger");
    const lastTrigger = Date.parse(triggers[triggers.length - 1].split(" ")[0]);
    assert.ok(lastTrigger >= lastChange - 50, "the last trigger came after the last change");
    assert.equal(watcher.triggers(A, from).length, 0);
  });

  test("restarting the API server mid-watch loses no change", async () => {
    const from = watcher.lines.length;
    await c.restartApiServer();
    // Made as soon as the server is back, while the watcher may still be reconnecting.
    await create(c, ts("watch-a", "after-restart"));
    await watcher.waitFor(/ trigger ops-watch\/crdstack-a .*TrackingServer watch-a\/after-restart created/, from, 30_000);
    await apply(c, es("watch-b", "burst-0", 3));
    await watcher.waitFor(/ trigger ops-watch\/crdstack-b .*EasyService watch-b\/burst-0 updated/, from, 30_000);
    assert.equal(watcher.process.exitCode, null, "the watcher is still running");
  });

  test("without its RBAC the watcher exits non-zero, saying why", async () => {
    const namespace = await freshNamespace(c, "no-rights");
    await create(c, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "nobody", namespace } });
    const token = await serviceAccountToken(c, namespace, "nobody");
    const denied = startWatcher(c, { stacks: [{ namespace, name: "crdstack", namespaces: [namespace] }] }, serviceAccountDir(c, token));
    assert.equal(await denied.exited, 1);
    assert.ok(denied.lines.some((line) => /fatal: denied in every namespace, last: LIST .*: 403/.test(line)), denied.lines.join("\n"));
    await denied.stop();
  });
});



