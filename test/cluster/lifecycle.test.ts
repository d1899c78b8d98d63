// Ownership and updates against a real API server and controller manager: children owned by their custom
// resource are garbage-collected with it, and a spec change yields exactly the expected objects.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { ownerReference } from "../../builders/meta";
import { childrenOf } from "../../builders/plan";
import { crdManifests } from "../../model/crd";
import { CustomObject } from "../../model/objects";
import { customResourceManifest, Manifest } from "../../builders/meta";
import { easyService, trackingServer } from "../helpers";
import { apply, Cluster, create, eventually, freshNamespace, installCrds, KubeObject, readObject, remove, useCluster } from "./cluster";

const options = { defaultImage: "ghcr.io/mlflow/mlflow:v3.1.1" };
let c: Cluster;
before(async () => {
  c = await useCluster();
  await installCrds(c, crdManifests() as KubeObject[]);
});

const key = (m: Manifest) => `${m.kind} ${m.metadata.name}`;

/** Creates the custom resource and its children owned by it, as the program does; returns the children. */
async function deploy(object: CustomObject): Promise<Manifest[]> {
  const custom = await create(c, customResourceManifest(object) as KubeObject);
  const owner = ownerReference(object, custom.metadata.uid);
  const children = childrenOf(object, options).map((child) => ({ ...child, metadata: { ...child.metadata, ownerReferences: [owner] } }));
  for (const child of children) await apply(c, child as KubeObject);
  return children;
}

/** Objects of `after` that are new or differ from `before`, and objects of `before` that are gone. */
function diff(before: Manifest[], after: Manifest[]) {
  const old = new Map(before.map((m) => [key(m), JSON.stringify(m)]));
  const now = new Set(after.map(key));
  return {
    changed: after.filter((m) => old.get(key(m)) !== JSON.stringify(m)).map(key).sort(),
    removed: before.filter((m) => !now.has(key(m))).map(key).sort(),
  };
}

/** Applies the program's objects for `object` after a spec change, the way the engine would: apply changed, delete removed. */
async function update(previous: CustomObject, next: CustomObject) {
  const before = childrenOf(previous, options);
  const after = childrenOf(next, options);
  const versions = new Map<string, string>();
  for (const m of before) versions.set(key(m), (await readObject(c, m as KubeObject))!.metadata.resourceVersion);
  const change = diff(before, after);
  const custom = (await readObject(c, customResourceManifest(previous) as KubeObject))!;
  await apply(c, { ...customResourceManifest(next), metadata: { ...customResourceManifest(next).metadata } } as KubeObject);
  const owner = ownerReference(next, custom.metadata.uid);
  for (const m of after.filter((m) => change.changed.includes(key(m)))) await apply(c, { ...m, metadata: { ...m.metadata, ownerReferences: [owner] } } as KubeObject);
  for (const m of before.filter((m) => change.removed.includes(key(m)))) await remove(c, m as KubeObject);
  const untouched: string[] = [];
  for (const m of after) {
    const current = await readObject(c, m as KubeObject);
    if (versions.get(key(m)) === current?.metadata.resourceVersion) untouched.push(key(m));
  }
  return { ...change, untouched: untouched.sort() };
}

describe("ownership", () => {
  test("children carry an ownerReference to their custom resource, and garbage collection removes them with it", async () => {
    const namespace = await freshNamespace(c, "owners");
    const object = trackingServer({ url: "https://mlflow.example.com/x", volumeSize: "1Gi", storageClassName: "standard" }, "mlflow", namespace);
    const children = await deploy(object);
    assert.equal(children.length, 5);
    const custom = (await readObject(c, customResourceManifest(object) as KubeObject))!;
    for (const child of children) {
      const live = (await readObject(c, child as KubeObject))!;
      assert.deepEqual(live.metadata.ownerReferences, [{ apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", name: "mlflow", uid: custom.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    }
    await remove(c, custom);
    for (const child of children) {
      // The garbage collector learns of a new CRD at its next discovery, within 30 s.
      await eventually(`${key(child)} garbage-collected`, async () => ((await readObject(c, child as KubeObject)) === undefined ? true : undefined), 90_000);
    }
  });

  test("the Deployment controller creates the ReplicaSet, owned by the Deployment", async () => {
    const namespace = await freshNamespace(c, "rollout");
    await deploy(easyService({ size: 2, image: "nginx:1.7.9", ports: [{ port: 80 }] }, "web", namespace));
    const sets = await eventually("a ReplicaSet", async () => {
      const list = await c.request("GET", `/apis/apps/v1/namespaces/${namespace}/replicasets`);
      return list.items.length > 0 ? list.items : undefined;
    });
    assert.equal(sets[0].spec.replicas, 2);
    assert.equal(sets[0].metadata.ownerReferences[0].kind, "Deployment");
  });
});

describe("updates", () => {
  test("EasyService image and size change only the Deployment", async () => {
    const namespace = await freshNamespace(c, "update-es");
    const first = easyService({ size: 1, image: "nginx:1.7.9", ports: [{ port: 80 }] }, "web", namespace);
    await deploy(first);
    const next = easyService({ size: 3, image: "nginx:1.25", ports: [{ port: 80 }] }, "web", namespace);
    const result = await update(first, next);
    assert.deepEqual(result, { changed: ["Deployment web"], removed: [], untouched: ["Service web"] });
    const live = (await readObject(c, { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace } }))!;
    assert.equal(live.spec.replicas, 3);
    assert.equal(live.spec.template.spec.containers[0].image, "nginx:1.25");
  });

  test("EasyService ports change the Deployment's container ports and the Service", async () => {
    const namespace = await freshNamespace(c, "update-ports");
    const first = easyService({ size: 1, image: "nginx", ports: [{ name: "http", port: 80 }] }, "web", namespace);
    await deploy(first);
    const next = easyService({ size: 1, image: "nginx", ports: [{ name: "http", port: 80, nodePort: 31500 }, { name: "admin", port: 8081 }] }, "web", namespace);
    const result = await update(first, next);
    assert.deepEqual(result, { changed: ["Deployment web", "Service web"], removed: [], untouched: [] });
    const service = (await readObject(c, { apiVersion: "v1", kind: "Service", metadata: { name: "web", namespace } }))!;
    assert.deepEqual(service.spec.ports.map((p: any) => [p.name, p.port, p.nodePort > 0]), [["http", 80, true], ["admin", 8081, true]]);
    assert.equal(service.spec.ports[0].nodePort, 31500);
  });

  test("removing volumeSize removes the claim and moves the server to an emptyDir; nothing else changes", async () => {
    const namespace = await freshNamespace(c, "update-volume");
    const first = trackingServer({ volumeSize: "1Gi", storageClassName: "standard" }, "mlflow", namespace);
    await deploy(first);
    const result = await update(first, trackingServer({}, "mlflow", namespace));
    assert.deepEqual(result, { changed: ["Deployment mlflow"], removed: ["PersistentVolumeClaim mlflow"], untouched: ["Secret mlflow-credentials", "Service mlflow"] });
    const live = (await readObject(c, { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "mlflow", namespace } }))!;
    assert.deepEqual(live.spec.template.spec.volumes, [{ name: "scratch", emptyDir: {} }]);
    assert.equal(live.spec.strategy.type, "RollingUpdate");
  });

  test("adding a volume switches the rollout to Recreate, which the API server accepts", async () => {
    const namespace = await freshNamespace(c, "update-add-volume");
    const first = trackingServer({}, "mlflow", namespace);
    await deploy(first);
    const result = await update(first, trackingServer({ volumeSize: "1Gi", storageClassName: "standard" }, "mlflow", namespace));
    assert.deepEqual(result, { changed: ["Deployment mlflow", "PersistentVolumeClaim mlflow"], removed: [], untouched: ["Secret mlflow-credentials", "Service mlflow"] });
    const live = (await readObject(c, { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "mlflow", namespace } }))!;
    assert.equal(live.spec.strategy.type, "Recreate");
    assert.equal(live.spec.template.spec.volumes[0].persistentVolumeClaim.claimName, "mlflow");
  });
});
