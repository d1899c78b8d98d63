// What the API server would refuse at apply, under the real engine with the cluster source: the program
// dry-runs the children that would change first, so a refused one is that object's problem (Ready=False,
// reason Refused) and it keeps what it has; the run passes and the other objects' changes are applied.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Cluster, create, eventually, freshNamespace, installCrds, KubeObject, readObject, useCluster } from "../cluster/cluster";
import { crdManifests } from "../../model/crd";
import { newStack, PulumiStack } from "./pulumi";
import { easyService, trackingServer } from "./specs";

const NS = "refuse";
const FIXED = "refuse-fixed";
let c: Cluster;
let stack: PulumiStack;

before(async () => {
  c = await useCluster();
  await installCrds(c, crdManifests() as KubeObject[]);
  await freshNamespace(c, NS);
  stack = await newStack(c.toolchain, { config: { source: "cluster", namespaces: [NS], installCrds: false }, kubeconfig: c.kubeconfig });
});

after(async () => {
  await stack?.destroy();
  await stack?.remove();
  await c.request("DELETE", `/api/v1/namespaces/${NS}`).catch(() => undefined);
  for (const path of [`/api/v1/persistentvolumes/${NS}-vault`, `/apis/storage.k8s.io/v1/storageclasses/${FIXED}`]) await c.request("DELETE", path).catch(() => undefined);
});

const get = (kind: string, apiVersion: string, name: string) => readObject(c, { apiVersion, kind, metadata: { name, namespace: NS } });
const patchSpec = (object: KubeObject, spec: Record<string, unknown>) =>
  c.request("PATCH", `/apis/${object.apiVersion}/namespaces/${NS}/${object.kind.toLowerCase()}s/${object.metadata.name}`, { spec }, "application/merge-patch+json");

/** The status the program wrote on a custom resource: its problems and its Ready condition. */
async function statusOf(object: KubeObject): Promise<{ problems: { path: string; message: string }[]; ready?: { status: string; reason: string; message: string } }> {
  const status = (await readObject(c, object))?.status ?? {};
  return { problems: status.problems ?? [], ready: (status.conditions ?? []).find((condition: { type: string }) => condition.type === "Ready") };
}

describe("a child the API server refuses", () => {
  const vault = trackingServer(NS, "vault", { size: 1, volumeSize: "1Gi", storageClassName: FIXED });
  const web = easyService(NS, "web", { size: 1, image: "nginx:1.25", ports: [{ name: "http", port: 80 }] });

  test("a claim resize the StorageClass does not allow is the object's problem: the run passes, the other object's change is applied, and nothing of the refused one changes", async () => {
    // A class whose volumes cannot grow, and a volume made for the claim (no provisioner serves the class).
    await create(c, { apiVersion: "storage.k8s.io/v1", kind: "StorageClass", metadata: { name: FIXED }, provisioner: "crdstack.test/fixed", allowVolumeExpansion: false } as KubeObject);
    await create(c, {
      apiVersion: "v1", kind: "PersistentVolume", metadata: { name: `${NS}-vault` },
      spec: { capacity: { storage: "1Gi" }, accessModes: ["ReadWriteOnce"], storageClassName: FIXED, hostPath: { path: "/tmp/refuse" }, claimRef: { namespace: NS, name: "vault" } },
    } as KubeObject);
    for (const object of [vault, web]) await create(c, object);
    await stack.up();
    await eventually("vault's claim bound", async () => (await get("PersistentVolumeClaim", "v1", "vault"))?.status?.phase === "Bound" || undefined);
    assert.deepEqual((await statusOf(vault)).problems, []);
    const children = async () => ({
      claim: (await get("PersistentVolumeClaim", "v1", "vault"))?.spec.resources.requests.storage,
      deployment: (await get("Deployment", "apps/v1", "vault"))?.metadata.generation,
      service: (await get("Service", "v1", "vault"))?.metadata.resourceVersion,
      secret: (await get("Secret", "v1", "vault-credentials"))?.metadata.resourceVersion,
    });
    const before = await children();
    assert.equal(before.claim, "1Gi");

    await patchSpec(vault, { volumeSize: "2Gi", image: "ghcr.io/mlflow/mlflow:v3.1.0" });
    await patchSpec(web, { image: "nginx:1.27" });
    const run = await stack.up();

    assert.equal((await get("Deployment", "apps/v1", "web"))?.spec.template.spec.containers[0].image, "nginx:1.27", "the other object's change is applied");
    const { problems, ready } = await statusOf(vault);
    assert.deepEqual(problems.map((p) => p.path), ["spec.volumeSize"], JSON.stringify(problems));
    assert.match(problems[0].message, /the API server refuses the PersistentVolumeClaim "vault": .*must support resize/);
    assert.equal(ready?.status, "False");
    assert.equal(ready?.reason, "Refused");
    assert.ok(run.stdout.includes(`TrackingServer ${NS}/vault: spec.volumeSize: `), "the problem is in the run's output");
    assert.deepEqual(await children(), before, "nothing of the refused object changed (not even its size)");
  });
});
