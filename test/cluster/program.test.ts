// The program with the `cluster` source, under Pulumi's mocks, reading a real API server: isolation of
// invalid objects, the last applied spec kept through a bad edit, the database volume kept, name clashes
// (between objects, and with objects crdstack does not own), and no secret value anywhere but in Secrets.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { recordResources, Registered, settled, unwrapSecrets } from "../mocks";
const registered = recordResources("cluster");
import { crdManifests } from "../../model/crd";
import { StatusEntries, statusProvider } from "../../providers/status";
import { PEM } from "../helpers";
import { Cluster, create, freshNamespace, installCrds, KubeObject, readObject, useCluster } from "./cluster";

type Program = () => Promise<{ problems: string[]; trackingServers: Record<string, string> }>;
const SECRETS = ["AKIAEXAMPLE", "s3cr3t-value", "hunter2", "PRIVATE KEY"];
/** What validate says of a GPU request without its limit, which admission lets through (no CEL for extended resources). */
const GPU_PROBLEM = "1 has no limit beside it: a request of nvidia.com/gpu must equal its limit";

let c: Cluster;
let namespace: string;
before(async () => {
  c = await useCluster();
  await installCrds(c, crdManifests() as KubeObject[]);
  process.env.KUBECONFIG = c.kubeconfig;
  namespace = await freshNamespace(c, "reconcile");
});

const es = (name: string, spec: Record<string, unknown>): KubeObject => ({ apiVersion: "app.kubebuilder.io/v1", kind: "EasyService", metadata: { name, namespace }, spec });
const ts = (name: string, spec: Record<string, unknown>): KubeObject => ({ apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: { name, namespace }, spec });
const dataSpec = {
  volumeSize: "1Gi", storageClassName: "standard", aws_access_key: "AKIAEXAMPLE", aws_secret_key: "s3cr3t-value",
  backend_uri: "mysql://mlflow:hunter2@db/mlflow", url: "https://data.example.com", ...PEM,
};

interface Run { problems: string[]; resources: Registered[]; entries: StatusEntries; outputs: unknown }

/** One program run: the resources it registers and the statuses it reports, which the provider then writes. */
async function runProgram(): Promise<Run> {
  pulumi.runtime.setAllConfig({ "crdstack:source": "cluster", "crdstack:namespaces": JSON.stringify([namespace]), "crdstack:installCrds": "false" });
  registered.length = 0;
  const outputs = await (require("../../index") as Program)();
  await settled();
  const resources = [...registered];
  const report = resources.find((r) => r.name === "status");
  assert.ok(report, "the status report is registered");
  const entries = report.inputs.entries as StatusEntries;
  await statusProvider.create!({ entries });
  return { problems: outputs.problems, resources, entries, outputs };
}

/** Replaces an object's spec, as `kubectl edit` does. */
async function edit(object: KubeObject): Promise<void> {
  const current = (await readObject(c, object))!;
  await c.request("PUT", `/apis/${object.apiVersion}/namespaces/${namespace}/${object.kind.toLowerCase()}s/${object.metadata.name}`, { ...current, spec: object.spec });
}

const child = (run: Run, type: string, name: string) => run.resources.find((r) => r.type === `kubernetes:${type}` && r.name === `${namespace}/${name}`);
const statusOf = async (object: KubeObject) => (await readObject(c, object))!.status;

describe("cluster source", () => {
  let first: Run;

  test("lists the objects, reconciles the valid ones, and isolates the invalid one with its problems in its status", async () => {
    await create(c, es("good", { size: 2, image: "nginx:1.25", ports: [{ name: "http", port: 80 }] }));
    // A problem the CRD cannot refuse at admission (CEL cannot check extended resources): see README.
    await create(c, es("bad", { size: 1, image: "nginx", resources: { requests: { "nvidia.com/gpu": 1 } } }));
    await create(c, ts("data", dataSpec));
    await create(c, ts("same", {}));
    await new Promise((resolve) => setTimeout(resolve, 1100)); // creationTimestamp has one-second resolution
    await create(c, es("same", { size: 1, image: "nginx" }));
    first = await runProgram();

    assert.deepEqual(first.problems.sort(), [
      `EasyService ${namespace}/bad: spec.resources.requests["nvidia.com/gpu"]: ${GPU_PROBLEM}`,
      `EasyService ${namespace}/same: metadata.name: "same" is already used by TrackingServer ${namespace}/same, whose children have the same names`,
    ]);
    assert.ok(child(first, "apps/v1:Deployment", "good"));
    assert.ok(child(first, "core/v1:PersistentVolumeClaim", "data"));
    assert.equal(child(first, "apps/v1:Deployment", "bad"), undefined);
    assert.equal(first.resources.filter((r) => r.type === "kubernetes:apps/v1:Deployment" && r.name === `${namespace}/same`).length, 1);
    assert.equal(first.resources.filter((r) => r.type.startsWith("kubernetes:") && /:(EasyService|TrackingServer)$/.test(r.type)).length, 0, "the cluster source does not create custom resources");
    const uid = (await readObject(c, es("good", {})))!.metadata.uid;
    assert.equal(child(first, "apps/v1:Deployment", "good")!.inputs.metadata.ownerReferences[0].uid, uid);

    const bad = await statusOf(es("bad", {}));
    assert.equal(bad.conditions[0].reason, "InvalidSpec");
    assert.deepEqual(bad.problems, [{ path: 'spec.resources.requests["nvidia.com/gpu"]', message: GPU_PROBLEM }]);
    assert.equal(bad.observedGeneration, 1);
    const good = await statusOf(es("good", {}));
    assert.deepEqual(good.problems, []);
    assert.equal(good.lastAppliedSpec.image, "nginx:1.25");
  });

  test("of two objects with the same name, the later one gets the error; the earlier one is untouched", async () => {
    const later = await statusOf(es("same", {}));
    assert.equal(later.conditions[0].reason, "InvalidSpec");
    assert.match(later.problems[0].message, /already used by TrackingServer/);
    const earlier = await statusOf(ts("same", {}));
    assert.deepEqual(earlier.problems, []);
    assert.equal(child(first, "apps/v1:Deployment", "same")!.inputs.spec.template.spec.containers[0].name, "mlflow");
  });

  test("a valid object made invalid keeps its children exactly as the last valid spec made them", async () => {
    await edit(es("good", { size: 5, image: "nginx:1.27", ports: [{ name: "http", port: 80 }], resources: { requests: { "nvidia.com/gpu": 1 } } }));
    const second = await runProgram();
    assert.ok(second.problems.includes(`EasyService ${namespace}/good: spec.resources.requests["nvidia.com/gpu"]: ${GPU_PROBLEM}`), second.problems.join("\n"));
    for (const type of ["apps/v1:Deployment", "core/v1:Service"]) {
      assert.deepEqual(child(second, type, "good")!.inputs, child(first, type, "good")!.inputs, type);
    }
    const status = await statusOf(es("good", {}));
    assert.equal(status.observedGeneration, 2);
    assert.match(status.conditions[0].message, /children stay as the last valid spec made them/);
    assert.equal(status.lastAppliedSpec.image, "nginx:1.25");
  });

  test("the database volume survives a change that would replace it, and the Secrets keep their values", async () => {
    // Under mocks nothing was applied: the Secrets are made as the first run would have made them (a
    // Secret gone while its object is declared from its last applied spec is not made again).
    const owner = await readObject(c, ts("data", dataSpec));
    const ownerReferences = [{ apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", name: "data", uid: owner!.metadata.uid, controller: true }];
    for (const name of ["data-credentials", "data"]) await create(c, { apiVersion: "v1", kind: "Secret", metadata: { name, namespace, ownerReferences }, stringData: { applied: "before" } });
    await edit(ts("data", { ...dataSpec, storageClassName: "premium" }));
    const third = await runProgram();
    assert.ok(third.problems.some((line) => line.includes(`TrackingServer ${namespace}/data: spec.storageClassName: "premium" cannot replace "standard"`)), third.problems.join("\n"));
    assert.deepEqual(child(third, "core/v1:PersistentVolumeClaim", "data")!.inputs, child(first, "core/v1:PersistentVolumeClaim", "data")!.inputs);
    assert.deepEqual(child(third, "apps/v1:Deployment", "data")!.inputs, child(first, "apps/v1:Deployment", "data")!.inputs);
    // Declared from the status, where secrets read (secret): the Secrets ignore changes to their data, so
    // Pulumi keeps the values it applied last, and so does the custom resource's spec.
    for (const name of ["data-credentials", "data"]) {
      const secret = child(third, "core/v1:Secret", name)!;
      assert.ok(Object.values(unwrapSecrets(secret.inputs.stringData) as object).includes("(secret)"), name);
      assert.deepEqual(secret.options.ignoreChanges, ["stringData", "data"], name);
    }
    assert.deepEqual(child(first, "core/v1:Secret", "data-credentials")!.options.ignoreChanges, []);
  });

  test("a volume marked retainVolume is kept by Pulumi and not owned by the TrackingServer; removing both at once is refused", async () => {
    await edit(ts("data", { ...dataSpec, retainVolume: true }));
    const retained = await runProgram();
    const claim = child(retained, "core/v1:PersistentVolumeClaim", "data")!;
    assert.equal(claim.options.retainOnDelete, true);
    assert.equal(claim.inputs.metadata.ownerReferences, undefined);
    assert.equal(child(first, "core/v1:PersistentVolumeClaim", "data")!.options.retainOnDelete, false);

    await create(c, ts("other", { volumeSize: "1Gi", storageClassName: "standard" }));
    await runProgram();
    await edit(ts("other", { retainVolume: true }));
    const refused = await runProgram();
    assert.ok(refused.problems.some((line) => line.includes(`TrackingServer ${namespace}/other: spec.retainVolume: must be applied while the volume is still in the spec`)), refused.problems.join("\n"));
    assert.ok(child(refused, "core/v1:PersistentVolumeClaim", "other"), "the claim is still declared");
  });

  test("no secret value in any registered input other than a Secret's, in outputs, problems or statuses", async () => {
    await edit(ts("data", dataSpec));
    const run = await runProgram();
    for (const resource of run.resources) {
      const paths: string[] = [];
      const plain = JSON.stringify(unwrapSecrets(resource.inputs, "", paths));
      const isSecretHolder = resource.type === "kubernetes:core/v1:Secret";
      if (isSecretHolder) assert.deepEqual(paths, ["stringData"], resource.name);
      const visible = isSecretHolder ? JSON.stringify({ ...resource.inputs, stringData: undefined }) : plain;
      for (const secret of SECRETS) assert.ok(!visible.includes(secret), `${secret} in ${resource.type} ${resource.name}`);
    }
    const text = JSON.stringify([run.outputs, run.problems, run.entries, await statusOf(ts("data", {}))]);
    for (const secret of SECRETS) assert.ok(!text.includes(secret), `${secret} in outputs or statuses`);
  });

  test("an object whose child would take the name of an object crdstack does not own is a Collision: nothing is declared for it, the others carry on", async () => {
    const unmanaged: KubeObject = await create(c, { apiVersion: "v1", kind: "Secret", metadata: { name: "taken-credentials", namespace }, type: "Opaque", stringData: { note: "not crdstack's" } } as KubeObject);
    await create(c, ts("taken", {}));
    const run = await runProgram();
    const line = `TrackingServer ${namespace}/taken: metadata.name: Secret ${namespace}/taken-credentials exists and is not this TrackingServer's (it was made outside crdstack)`;
    assert.ok(run.problems.some((problem) => problem.startsWith(line)), run.problems.join("\n"));
    assert.equal(child(run, "core/v1:Secret", "taken-credentials"), undefined);
    assert.equal(child(run, "apps/v1:Deployment", "taken"), undefined);
    assert.ok(child(run, "apps/v1:Deployment", "same"), "the others are declared");
    assert.equal((await readObject(c, unmanaged))!.metadata.resourceVersion, unmanaged.metadata.resourceVersion);
  });
});

