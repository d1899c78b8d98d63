// Objects crdstack does not own, under the real engine with the cluster source: a custom resource whose
// child would take such an object's name, a NodePort held elsewhere, or a Secret that does not allow
// specs to name it gets a problem in its status; the run passes, the other objects are applied, and the
// object it would have taken is left exactly as it was.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { STORAGE_CLASS } from "../cluster/controlPlane";
import { Cluster, create, eventually, freshNamespace, installCrds, KubeObject, readObject, useCluster } from "../cluster/cluster";
import { ADOPT_ANNOTATION } from "../../model/collisions";
import { crdManifests } from "../../model/crd";
import { REFERABLE_LABEL } from "../../model/references";
import { newStack, PulumiStack } from "./pulumi";
import { easyService, trackingServer } from "./specs";

const NS = "collide";
const ELSEWHERE = "collide-elsewhere";
const HELD_PORT = 30777;
let c: Cluster;
let stack: PulumiStack;

before(async () => {
  c = await useCluster();
  await installCrds(c, crdManifests() as KubeObject[]);
  await freshNamespace(c, NS);
  await freshNamespace(c, ELSEWHERE);
  stack = await newStack(c.toolchain, { config: { source: "cluster", namespaces: [NS], installCrds: false }, kubeconfig: c.kubeconfig });
});

after(async () => {
  await stack?.destroy();
  await stack?.remove();
  for (const namespace of [NS, ELSEWHERE]) await c.request("DELETE", `/api/v1/namespaces/${namespace}`).catch(() => undefined);
});

const get = (kind: string, apiVersion: string, name: string, namespace = NS) => readObject(c, { apiVersion, kind, metadata: { name, namespace } });
const core = (kind: string, name: string, rest: Record<string, unknown>, namespace = NS): KubeObject => ({ apiVersion: "v1", kind, metadata: { name, namespace }, ...rest });

/** The claim once the test cluster's provisioner has bound it (which changes it). */
const bound = (claim: KubeObject) => eventually(`${claim.metadata.name} bound`, async () => {
  const now = await readObject(c, claim);
  return now?.status?.phase === "Bound" ? now : undefined;
});

/** The status the program wrote on a custom resource: its problems and its Ready condition. */
async function statusOf(object: KubeObject): Promise<{ problems: { path: string; message: string }[]; ready: { status: string; reason: string; message: string } }> {
  const status = (await readObject(c, object))?.status ?? {};
  return { problems: status.problems ?? [], ready: (status.conditions ?? []).find((condition: { type: string }) => condition.type === "Ready") };
}

describe("objects crdstack does not own", () => {
  const fine = easyService(NS, "fine", { size: 1, image: "nginx:1.25", ports: [{ name: "http", port: 80 }] });
  const store = trackingServer(NS, "store", {});
  const vault = trackingServer(NS, "vault", { volumeSize: "1Gi", storageClassName: STORAGE_CLASS });
  const porter = easyService(NS, "porter", { size: 1, image: "nginx:1.25", ports: [{ name: "http", port: 80, nodePort: HELD_PORT }] });
  const reader = easyService(NS, "reader", { size: 1, image: "nginx:1.25", envs: [{ name: "PASSWORD", valueFrom: { secretKeyRef: { name: "db-password", key: "password" } } }] });
  // The attack: a tenant names an EasyService after the platform's database Service, whose traffic its
  // Service (selector app: database) would send to the tenant's pods.
  const hijack = easyService(NS, "database", { size: 1, image: "nginx:1.25", ports: [{ name: "pg", port: 5432 }] });
  const unmanaged: KubeObject[] = [];

  test("each colliding object gets its problem and nothing is declared for it; the run passes, the others are applied, and what they would take is unchanged", async () => {
    unmanaged.push(
      await create(c, core("Secret", "store-credentials", { type: "Opaque", stringData: { MLFLOW_BACKEND_STORE_URI: "kept" } })),
      // A claim retained by an earlier TrackingServer "vault" (crdstack's label, no owner), once bound.
      await bound(await create(c, core("PersistentVolumeClaim", "vault", { metadata: { name: "vault", namespace: NS, labels: { "app.kubernetes.io/managed-by": "crdstack" } }, spec: { accessModes: ["ReadWriteOnce"], storageClassName: STORAGE_CLASS, resources: { requests: { storage: "1Gi" } } } }))),
      await create(c, core("Service", "holder", { spec: { type: "NodePort", selector: { app: "holder" }, ports: [{ port: 80, nodePort: HELD_PORT }] } }, ELSEWHERE)),
      await create(c, core("Secret", "db-password", { type: "Opaque", stringData: { password: "platform-only" } })),
      await create(c, core("Service", "database", { spec: { selector: { app: "postgres" }, ports: [{ name: "pg", port: 5432 }] } })),
    );
    for (const object of [fine, store, vault, porter, reader, hijack]) await create(c, object);

    const run = await stack.up();
    assert.ok(await get("Deployment", "apps/v1", "fine"), "the healthy object is applied");
    const expected: [KubeObject, string, string, RegExp][] = [
      [store, "metadata.name", "Collision", /^Secret collide\/store-credentials exists and is not this TrackingServer's/],
      [vault, "spec.volumeSize", "Collision", new RegExp(`was retained from an earlier object of this name.*${ADOPT_ANNOTATION}=true.*delete it`)],
      [porter, "spec.ports[0].nodePort", "Collision", /provided port is already allocated/],
      [reader, "spec.envs[0].valueFrom.secretKeyRef.name", "NotReferable", new RegExp(`${REFERABLE_LABEL}: "true"`)],
      [hijack, "metadata.name", "Collision", /^Service collide\/database exists and is not this EasyService's \(it was made outside crdstack\)/],
    ];
    for (const [object, path, reason, message] of expected) {
      const { problems, ready } = await statusOf(object);
      const name = object.metadata.name;
      assert.deepEqual(problems.map((p) => p.path), [path], `${name}: ${JSON.stringify(problems)}`);
      assert.match(problems[0].message, message, name);
      assert.equal(ready?.status, "False", name);
      assert.equal(ready?.reason, reason, name);
      assert.equal(await get("Deployment", "apps/v1", name), undefined, `nothing is declared for ${name}`);
      assert.ok(run.stdout.includes(`${object.kind} ${NS}/${name}: ${path}: `), `${name}'s problem is in the run's output`);
    }
    for (const object of unmanaged) {
      const now = await readObject(c, object);
      assert.equal(now?.metadata.resourceVersion, object.metadata.resourceVersion, `${object.kind} ${object.metadata.namespace}/${object.metadata.name} is unchanged`);
    }
  });

  test("a retained claim annotated for adoption is taken by the re-created object, with its data", async () => {
    const claim = unmanaged.find((object) => object.kind === "PersistentVolumeClaim")!;
    await c.request("PATCH", `/api/v1/namespaces/${NS}/persistentvolumeclaims/vault`, { metadata: { annotations: { [ADOPT_ANNOTATION]: "true" } } }, "application/merge-patch+json");
    await stack.up();
    const { problems } = await statusOf(vault);
    assert.deepEqual(problems, []);
    const deployment = await get("Deployment", "apps/v1", "vault");
    assert.equal(deployment?.spec.template.spec.volumes[0].persistentVolumeClaim.claimName, "vault");
    assert.equal((await get("PersistentVolumeClaim", "v1", "vault"))?.metadata.uid, claim.metadata.uid, "the same claim");
    // Once applied, the claim is the object's own: the next run has nothing to report.
    await stack.up();
    assert.deepEqual((await statusOf(vault)).problems, []);
  });

  test("labelling the Secret referable lets the EasyService name it", async () => {
    await c.request("PATCH", `/api/v1/namespaces/${NS}/secrets/db-password`, { metadata: { labels: { [REFERABLE_LABEL]: "true" } } }, "application/merge-patch+json");
    await stack.up();
    assert.deepEqual((await statusOf(reader)).problems, []);
    const env = (await get("Deployment", "apps/v1", "reader"))?.spec.template.spec.containers[0].env;
    assert.deepEqual(env, [{ name: "PASSWORD", valueFrom: { secretKeyRef: { name: "db-password", key: "password" } } }]);
  });

  test("what was changed by hand in a child is reported and put back, and a run after an untouched one reports nothing", async () => {
    const quiet = await stack.up();
    assert.doesNotMatch(quiet.stdout, /drift put back/, "no drift without a change");
    // kubectl edit: an update under its own field manager.
    await c.request("PATCH", `/apis/apps/v1/namespaces/${NS}/deployments/fine?fieldManager=kubectl-edit`, { spec: { replicas: 3 } }, "application/merge-patch+json");
    await c.request("DELETE", `/api/v1/namespaces/${NS}/services/fine`);
    const run = await stack.up();
    assert.match(run.stdout, new RegExp(`EasyService ${NS}/fine: drift put back: Deployment ${NS}/fine: changed by kubectl-edit`));
    assert.match(run.stdout, new RegExp(`EasyService ${NS}/fine: drift put back: Service ${NS}/fine was deleted`));
    assert.equal((await get("Deployment", "apps/v1", "fine"))?.spec.replicas, 1, "the edit is undone");
    assert.ok(await get("Service", "v1", "fine"), "the Service is back");
    assert.doesNotMatch((await stack.up()).stdout, /drift put back/, "once put back, nothing to report");
  });
});

