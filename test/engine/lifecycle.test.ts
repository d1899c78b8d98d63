// What happens to an object's children across its life, under the real engine with the cluster source:
// re-created under the same name, held in deletion by a finalizer, moved from one shard's stack to
// another's, a child deleted by hand. No run fails and nothing is deleted that should stay.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { OWNER_UID_ANNOTATION as OWNER_UID } from "../../model/collisions";
import { crdManifests } from "../../model/crd";
import { STORAGE_CLASS } from "../cluster/controlPlane";
import { Cluster, create, eventually, freshNamespace, installCrds, KubeObject, pathOf, readObject, remove, useCluster } from "../cluster/cluster";
import { newStack, PulumiStack } from "./pulumi";
import { trackingServer } from "./specs";

const MAIN = "lifecycle";
const MOVING = "lifecycle-moving";
const OTHER = "lifecycle-other";
let c: Cluster;
/** The shard that serves MAIN (and MOVING, until it leaves). */
let first: PulumiStack;
/** The shard that serves OTHER (and MOVING, once it joins). */
let second: PulumiStack;

const shard = (namespaces: string[]) => ({ source: "cluster", namespaces, installCrds: false });

before(async () => {
  c = await useCluster();
  await installCrds(c, crdManifests() as KubeObject[]);
  for (const namespace of [MAIN, MOVING, OTHER]) await freshNamespace(c, namespace);
  first = await newStack(c.toolchain, { config: shard([MAIN, MOVING]), kubeconfig: c.kubeconfig });
  second = await newStack(c.toolchain, { config: shard([OTHER]), kubeconfig: c.kubeconfig });
});

after(async () => {
  for (const stack of [first, second]) {
    await stack?.destroy();
    await stack?.remove();
  }
});

const child = (kind: string, apiVersion: string, namespace: string, name: string) => readObject(c, { apiVersion, kind, metadata: { name, namespace } });
const deploymentOf = (namespace: string, name: string) => child("Deployment", "apps/v1", namespace, name);

describe("lifecycle under the real engine (cluster source)", () => {
  test("a custom resource deleted and created again under its name: the run passes and the children belong to the new one", async () => {
    const phoenix = trackingServer(MAIN, "phoenix", {});
    const old = await create(c, phoenix);
    await first.up();
    assert.equal((await deploymentOf(MAIN, "phoenix"))?.metadata.ownerReferences[0].uid, old.metadata.uid);

    // The watcher triggers a run on the delete, and the garbage collector removes the children within
    // moments; here it is waited for (its watch of a freshly installed CRD can take a resync to start).
    // Children the collector has not removed yet would belong to another uid: model/collisions.ts.
    await remove(c, old);
    await eventually("the garbage collector removes the old children", async () => ((await deploymentOf(MAIN, "phoenix")) === undefined ? true : undefined), 120_000);
    const reborn = await create(c, phoenix);
    assert.notEqual(reborn.metadata.uid, old.metadata.uid);
    await first.up();
    for (const [kind, apiVersion, name] of [["Deployment", "apps/v1", "phoenix"], ["Service", "v1", "phoenix"], ["Secret", "v1", "phoenix-credentials"]]) {
      const object = await child(kind, apiVersion, MAIN, name);
      assert.ok(object, `${kind} ${name} exists`);
      assert.equal(object.metadata.ownerReferences[0].uid, reborn.metadata.uid, `${kind} ${name} is owned by the new object`);
      assert.equal(object.metadata.annotations[OWNER_UID], reborn.metadata.uid, `${kind} ${name} names the new object's uid`);
    }
  });

  test("a child deleted by hand is back after the next run, and the status says what was put back", async () => {
    const before = await deploymentOf(MAIN, "phoenix");
    assert.ok(before);
    await c.request("DELETE", pathOf(before));
    await eventually("the Deployment gone", async () => ((await deploymentOf(MAIN, "phoenix")) === undefined ? true : undefined));
    await first.up();
    const after = await deploymentOf(MAIN, "phoenix");
    assert.ok(after, "the Deployment is back");
    assert.notEqual(after.metadata.uid, before.metadata.uid);
    const status = (await readObject(c, trackingServer(MAIN, "phoenix", {})))?.status;
    const drift = status?.conditions?.find((condition: { type: string }) => condition.type === "DriftCorrected");
    assert.equal(drift?.status, "True", JSON.stringify(status?.conditions));
    assert.match(drift?.message, new RegExp(`Deployment ${MAIN}/phoenix was deleted`));
  });

  test("a child that leaves while its object stays is deleted: unsetting url removes the Ingress", async () => {
    const path = pathOf(trackingServer(MAIN, "phoenix", {}));
    await c.request("PATCH", path, { spec: { url: "https://phoenix.example.com" } }, "application/merge-patch+json");
    await first.up();
    assert.ok(await child("Ingress", "networking.k8s.io/v1", MAIN, "phoenix"));
    await c.request("PATCH", path, { spec: { url: null } }, "application/merge-patch+json");
    await first.up();
    assert.equal(await child("Ingress", "networking.k8s.io/v1", MAIN, "phoenix"), undefined);
    assert.ok(await deploymentOf(MAIN, "phoenix"), "the rest stays");
  });

  test("an object being deleted (a finalizer holds it): the run passes and changes nothing; once it is gone, so are its children", async () => {
    const held = await create(c, { ...trackingServer(MAIN, "held", {}), metadata: { name: "held", namespace: MAIN, finalizers: ["example.com/hold"] } } as KubeObject);
    await first.up();
    await c.request("DELETE", pathOf(held));
    // An edit while it is being deleted would change its children and its status, were it applied.
    const deleting = await c.request("PATCH", pathOf(held), { spec: { image: "ghcr.io/mlflow/mlflow:v3.2.0" } }, "application/merge-patch+json");
    assert.ok(deleting.metadata.deletionTimestamp);
    assert.ok(deleting.metadata.generation > held.metadata.generation!, "the spec moved on");
    const deployment = (await deploymentOf(MAIN, "held"))!;

    await first.up();
    assert.equal((await readObject(c, held))!.metadata.resourceVersion, deleting.metadata.resourceVersion, "its status is not rewritten");
    assert.equal((await deploymentOf(MAIN, "held"))?.metadata.resourceVersion, deployment.metadata.resourceVersion, "its children are left as they are");
    assert.notEqual((await deploymentOf(MAIN, "held"))?.spec.template.spec.containers[0].image, "ghcr.io/mlflow/mlflow:v3.2.0");

    await c.request("PATCH", pathOf(held), { metadata: { finalizers: null } }, "application/merge-patch+json");
    await eventually("the garbage collector removes its children", async () => ((await deploymentOf(MAIN, "held")) === undefined ? true : undefined));
    await first.up();
    assert.equal(await readObject(c, held), undefined);
  });

  test("a namespace leaving one shard's stack for another's: neither run fails, nothing is deleted, the claim keeps its uid", async () => {
    await create(c, trackingServer(MOVING, "mover", { volumeSize: "1Gi", storageClassName: STORAGE_CLASS }));
    await first.up();
    const claim = (await child("PersistentVolumeClaim", "v1", MOVING, "mover"))!;
    const deployment = (await deploymentOf(MOVING, "mover"))!;
    assert.ok(claim && deployment);

    first.setConfig(shard([MAIN]));
    await first.up();
    assert.equal((await child("PersistentVolumeClaim", "v1", MOVING, "mover"))?.metadata.uid, claim.metadata.uid, "the shard that left deletes nothing");
    assert.equal((await deploymentOf(MOVING, "mover"))?.metadata.uid, deployment.metadata.uid);

    second.setConfig(shard([OTHER, MOVING]));
    await second.up();
    assert.equal((await child("PersistentVolumeClaim", "v1", MOVING, "mover"))?.metadata.uid, claim.metadata.uid, "the shard that joined adopts the claim as it is");
    assert.equal((await deploymentOf(MOVING, "mover"))?.metadata.uid, deployment.metadata.uid);
    const moved = await readObject(c, trackingServer(MOVING, "mover", {}));
    assert.ok(moved?.status?.conditions?.some((condition: { type: string }) => condition.type === "Ready"), "the new shard writes its status");
    assert.deepEqual((await first.plan()).filter((step) => step.op !== "same"), [], "the shard that left has nothing more to do");
  });
});
