// What a stolen token of each in-cluster service account can do, against the real API server: the
// workspace and the watcher each try to step out of their lane with their own token, and the API server
// (RBAC, and for the watcher's Stacks the admission policy) refuses. Then a tenant's attacks through the
// program itself (what it reads and plans as the workspace): references to Secrets not meant for them,
// names that would make crdstack overwrite or adopt what it does not own, a foreign namespace.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { stacks, watcher, workspaceRbac } from "../../builders/operator";
import { crdManifests } from "../../model/crd";
import { Candidate } from "../../model/reconcile";
import { REFERABLE_LABEL } from "../../model/references";
import { clusterCandidates, readCluster, requestJson } from "../../sources/cluster";
import { planAgainstCluster } from "../../sources/plan";
import { PEM } from "../helpers";
import { apply, Cluster, create, eventually, freshNamespace, installCrds, KubeObject, pathOf, readObject, useCluster } from "./cluster";
import { installStackCrd, operatorConfig, serviceAccountToken } from "./operatorSetup";

const OPS = "atk-ops";
const SERVED = "atk-team";
const UNSERVED = "atk-other";
const operator = operatorConfig({ namespace: OPS, namespaces: [SERVED] });
let c: Cluster;

before(async () => {
  c = await useCluster();
  await installCrds(c, crdManifests() as KubeObject[]);
  await installStackCrd(c);
  for (const namespace of [OPS, SERVED, UNSERVED]) await freshNamespace(c, namespace);
  for (const manifest of [...workspaceRbac(operator), ...watcher(operator).filter((m) => m.kind !== "Deployment")]) await apply(c, manifest as KubeObject);
  for (const stack of stacks(operator)) await create(c, stack as KubeObject);
  // Something to steal or break in every namespace.
  for (const namespace of ["kube-system", OPS, SERVED, UNSERVED]) {
    await create(c, { apiVersion: "v1", kind: "Secret", metadata: { name: "loot", namespace }, stringData: { password: "hunter2" } });
    await create(c, deployment(namespace, "victim"));
  }
});

function deployment(namespace: string, name: string): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace },
    spec: { replicas: 0, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "c", image: "nginx" }] } } },
  };
}

/** Requests as the service account, with its own token. */
async function as(account: string) {
  const token = await serviceAccountToken(c, OPS, account);
  const config = new k8s.KubeConfig();
  config.loadFromClusterAndUser({ name: "test", server: c.server, skipTLSVerify: true }, { name: account, token });
  return (method: string, path: string, body?: unknown, contentType?: string) => requestJson(config, path, { method, body, contentType });
}

/**
 * The HTTP status a call ends with: 200 when it succeeds. A 429 (the API server still building its cache
 * of a kind just installed) is asked again, up to 10 s.
 */
async function statusOf(call: () => Promise<unknown>): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const status = await call().then(() => 200, (error: { code?: number }) => error.code ?? 0);
    if (status !== 429 || attempt >= 10) return status;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

describe("the workspace's token", () => {
  test("creating a Deployment outside its served namespaces is forbidden; in a served one it is allowed", async () => {
    const request = await as("crdstack-workspace");
    for (const namespace of ["kube-system", OPS, UNSERVED]) {
      assert.equal(await statusOf(() => request("POST", `/apis/apps/v1/namespaces/${namespace}/deployments`, deployment(namespace, "implant"))), 403, namespace);
    }
    assert.equal(await statusOf(() => request("POST", `/apis/apps/v1/namespaces/${SERVED}/deployments`, deployment(SERVED, "implant"))), 200);
  });

  test("reading a Secret outside its served namespaces is forbidden, by GET or by LIST, and cluster-wide; in a served one it is allowed", async () => {
    const request = await as("crdstack-workspace");
    for (const namespace of ["kube-system", OPS, UNSERVED]) {
      assert.equal(await statusOf(() => request("GET", `/api/v1/namespaces/${namespace}/secrets/loot`)), 403, `GET in ${namespace}`);
      assert.equal(await statusOf(() => request("GET", `/api/v1/namespaces/${namespace}/secrets`)), 403, `LIST in ${namespace}`);
    }
    assert.equal(await statusOf(() => request("GET", "/api/v1/secrets")), 403, "LIST across namespaces");
    assert.equal(await statusOf(() => request("GET", `/api/v1/namespaces/${SERVED}/secrets/loot`)), 200);
  });

  test("it cannot change the Stacks, RBAC or namespaces that confine it", async () => {
    const request = await as("crdstack-workspace");
    assert.equal(await statusOf(() => request("PATCH", `/apis/pulumi.com/v1/namespaces/${OPS}/stacks/crdstack`, { spec: { projectRepo: "https://evil.example.com/x.git" } }, "application/merge-patch+json")), 403);
    const binding = { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: "more", namespace: UNSERVED }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "crdstack-workspace" }, subjects: [{ kind: "ServiceAccount", name: "crdstack-workspace", namespace: OPS }] };
    assert.equal(await statusOf(() => request("POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${UNSERVED}/rolebindings`, binding)), 403);
    assert.equal(await statusOf(() => request("POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${SERVED}/rolebindings`, { ...binding, metadata: { name: "more", namespace: SERVED } })), 403);
    assert.equal(await statusOf(() => request("PATCH", `/api/v1/namespaces/${SERVED}`, { metadata: { labels: { x: "y" } } }, "application/merge-patch+json")), 403);
  });
});

describe("the watcher's token", () => {
  const stackPath = `/apis/pulumi.com/v1/namespaces/${OPS}/stacks/crdstack`;
  const patch = (request: Awaited<ReturnType<typeof as>>, body: object) => statusOf(() => request("PATCH", stackPath, body, "application/merge-patch+json"));

  test("it may set the reconciliation-request annotation on its Stack, and change nothing else: spec, labels, other annotations, finalizers (422)", async () => {
    const request = await as("crdstack-watcher");
    // A new admission policy takes effect within a moment.
    await eventually("the policy in force", async () => ((await patch(request, { spec: { projectRepo: "https://evil.example.com/x.git" } })) === 422 ? true : undefined));
    assert.equal(await patch(request, { spec: { projectRepo: "https://evil.example.com/x.git" } }), 422, "spec.projectRepo");
    assert.equal(await patch(request, { spec: { destroyOnFinalize: true } }), 422, "spec.destroyOnFinalize");
    assert.equal(await patch(request, { metadata: { labels: { team: "evil" } } }), 422, "a label");
    assert.equal(await patch(request, { metadata: { annotations: { "pulumi.com/reconciliation-request": "x", other: "y" } } }), 422, "another annotation beside it");
    assert.equal(await patch(request, { metadata: { finalizers: ["example.com/hold"] } }), 422, "a finalizer");
    const value = new Date().toISOString();
    assert.equal(await patch(request, { metadata: { annotations: { "pulumi.com/reconciliation-request": value } } }), 200, "the annotation");
    const stack = (await readObject(c, stacks(operator)[0] as KubeObject))!;
    assert.equal(stack.metadata.annotations["pulumi.com/reconciliation-request"], value);
    assert.equal(stack.spec.projectRepo, operator.repo);
    assert.equal(stack.metadata.labels.team, undefined);
  });

  test("it cannot touch a Stack that is not its own, nor delete its own", async () => {
    const request = await as("crdstack-watcher");
    await create(c, { ...(stacks(operator)[0] as KubeObject), metadata: { name: "someone-elses", namespace: OPS } });
    assert.equal(await statusOf(() => request("PATCH", `/apis/pulumi.com/v1/namespaces/${OPS}/stacks/someone-elses`, { metadata: { annotations: { "pulumi.com/reconciliation-request": "x" } } }, "application/merge-patch+json")), 403);
    assert.equal(await statusOf(() => request("DELETE", stackPath)), 403);
  });

  test("it cannot read Secrets anywhere, nor get a Deployment's spec outside its served namespaces", async () => {
    const request = await as("crdstack-watcher");
    for (const namespace of ["kube-system", OPS, UNSERVED, SERVED]) {
      assert.equal(await statusOf(() => request("GET", `/api/v1/namespaces/${namespace}/secrets/loot`)), 403, `Secret in ${namespace}`);
      assert.equal(await statusOf(() => request("GET", `/api/v1/namespaces/${namespace}/secrets`)), 403, `Secrets of ${namespace}`);
    }
    for (const namespace of ["kube-system", OPS, UNSERVED]) {
      assert.equal(await statusOf(() => request("GET", `/apis/apps/v1/namespaces/${namespace}/deployments/victim`)), 403, `GET Deployment in ${namespace}`);
      assert.equal(await statusOf(() => request("GET", `/apis/apps/v1/namespaces/${namespace}/deployments`)), 403, `LIST Deployments in ${namespace}`);
    }
  });

  test("it may list custom resources in a served namespace only, never cluster-wide", async () => {
    const request = await as("crdstack-watcher");
    assert.equal(await statusOf(() => request("GET", `/apis/experiment.aiscope/v1alpha2/namespaces/${SERVED}/trackingservers`)), 200);
    assert.equal(await statusOf(() => request("GET", `/apis/experiment.aiscope/v1alpha2/namespaces/${UNSERVED}/trackingservers`)), 403);
    assert.equal(await statusOf(() => request("GET", `/apis/app.kubebuilder.io/v1/namespaces/${UNSERVED}/easyservices`)), 403);
    assert.equal(await statusOf(() => request("GET", "/apis/experiment.aiscope/v1alpha2/trackingservers")), 403);
    assert.equal(await statusOf(() => request("GET", "/apis/apps/v1/deployments")), 403);
  });
});

describe("a tenant who may create custom resources (not pods or Secrets), through the program running as the workspace", () => {
  const es = (name: string, spec: Record<string, unknown>, namespace = SERVED): KubeObject => ({ apiVersion: "app.kubebuilder.io/v1", kind: "EasyService", metadata: { name, namespace }, spec: { size: 1, image: "nginx:1.27", ...spec } });
  const ts = (name: string, spec: Record<string, unknown>): KubeObject => ({ apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: { name, namespace: SERVED }, spec: { size: 1, ...spec } });

  /** The program's plan of what the workspace reads in its served namespace, with the workspace's own token. */
  async function planAsWorkspace(extra: Candidate[] = []) {
    const token = await serviceAccountToken(c, OPS, "crdstack-workspace");
    const config = new k8s.KubeConfig();
    config.loadFromClusterAndUser({ name: "test", server: c.server, skipTLSVerify: true }, { name: "workspace", token });
    const state = await eventually("the workspace's read of its namespace", () => readCluster(config, [SERVED]));
    const { planned } = await planAgainstCluster([...clusterCandidates(state), ...extra], { namespaces: [SERVED] }, state, config, () => {});
    return new Map(planned.map((item) => [`${item.ref.kind} ${item.ref.namespace}/${item.ref.name}`, item]));
  }

  test("naming a Secret that is not labelled referable (an env's secretKeyRef, a TrackingServer's s3CredentialsSecret) is refused; labelled, it is allowed", async () => {
    await create(c, es("thief", { envs: [{ name: "LOOT", valueFrom: { secretKeyRef: { name: "loot", key: "password" } } }] }));
    await create(c, ts("borrower", { s3CredentialsSecret: "loot" }));
    await create(c, { apiVersion: "v1", kind: "Secret", metadata: { name: "shared", namespace: SERVED, labels: { [REFERABLE_LABEL]: "true" } }, stringData: { password: "for everyone" } });
    await create(c, es("honest", { envs: [{ name: "SHARED", valueFrom: { secretKeyRef: { name: "shared", key: "password" } } }] }));
    const plan = await planAsWorkspace();
    const thief = plan.get(`EasyService ${SERVED}/thief`)!;
    assert.equal(thief.applied, undefined, "nothing is declared for it");
    assert.deepEqual(thief.problems.map((p) => [p.path, p.reason]), [["spec.envs[0].valueFrom.secretKeyRef.name", "NotReferable"]]);
    const borrower = plan.get(`TrackingServer ${SERVED}/borrower`)!;
    assert.deepEqual(borrower.problems.map((p) => [p.path, p.reason]), [["spec.s3CredentialsSecret", "NotReferable"]]);
    assert.deepEqual(plan.get(`EasyService ${SERVED}/honest`)!.problems, []);
  });

  test("an object named so that crdstack would overwrite or adopt what it does not own (a Deployment, the platform's Service, another kind of the same name) is refused", async () => {
    const service = await create<KubeObject>(c, { apiVersion: "v1", kind: "Service", metadata: { name: "database", namespace: SERVED }, spec: { ports: [{ port: 5432 }] } });
    await create(c, es("database", { ports: [{ port: 80 }] }));
    await create(c, es("victim", {}));
    // Its TLS Secret would be the Secret `loot` someone else keeps there.
    await create(c, ts("loot", { url: "https://mlflow.example.com", cert: PEM.cert, key: PEM.key }));
    const plan = await planAsWorkspace();
    for (const [key, path] of [[`EasyService ${SERVED}/database`, "metadata.name"], [`EasyService ${SERVED}/victim`, "metadata.name"], [`TrackingServer ${SERVED}/loot`, "spec.cert"]]) {
      const item = plan.get(key)!;
      assert.equal(item.applied, undefined, key);
      assert.ok(item.problems.some((p) => p.reason === "Collision" && p.path === path), `${key}: ${JSON.stringify(item.problems)}`);
    }
    assert.equal((await readObject(c, service))!.metadata.resourceVersion, service.metadata.resourceVersion);
  });

  test("a custom resource in a namespace the stack does not serve: never read in the cluster, a problem from files, and its children cannot be made", async () => {
    await create(c, es("elsewhere", {}, UNSERVED));
    const plan = await planAsWorkspace([{ raw: es("from-file", {}, UNSERVED) }]);
    assert.equal(plan.get(`EasyService ${UNSERVED}/elsewhere`), undefined);
    const fromFile = plan.get(`EasyService ${UNSERVED}/from-file`)!;
    assert.equal(fromFile.applied, undefined);
    assert.deepEqual(fromFile.problems.map((p) => [p.path, p.reason]), [["metadata.namespace", "OutsideNamespaces"]]);
    const workspace = await as("crdstack-workspace");
    assert.equal(await statusOf(() => workspace("POST", `/apis/apps/v1/namespaces/${UNSERVED}/deployments`, deployment(UNSERVED, "elsewhere"))), 403);
  });

  test("a forged status.lastAppliedSpec naming a Secret not labelled referable, behind an invalid current spec, declares nothing", async () => {
    // A problem the CRD cannot refuse at admission (CEL cannot check extended resources), so the program falls back.
    const forger = await create(c, es("forger", { resources: { requests: { "nvidia.com/gpu": 1 } } }));
    const forged = { size: 1, image: "nginx:1.27", envs: [{ name: "LOOT", valueFrom: { secretKeyRef: { name: "loot", key: "password", optional: true } } }] };
    await c.request("PATCH", `${pathOf(forger)}/status`, { status: { lastAppliedSpec: forged } }, "application/merge-patch+json");
    assert.deepEqual((await readObject(c, forger))!.status.lastAppliedSpec, forged, "the API server keeps what the status writer wrote");
    const item = (await planAsWorkspace()).get(`EasyService ${SERVED}/forger`)!;
    assert.equal(item.applied, undefined, "nothing is declared for it");
    assert.equal(item.fallback, false);
    assert.deepEqual(item.problems.map((p) => [p.path, p.reason]), [
      ['spec.resources.requests["nvidia.com/gpu"]', undefined],
      ["status.lastAppliedSpec.envs[0].valueFrom.secretKeyRef.name", "NotReferable"],
    ]);
  });
});
