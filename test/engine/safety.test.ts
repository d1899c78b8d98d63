// What a bad spec, a removal and clashing names do under the real engine: nothing that existed is lost,
// the others are applied, and no secret value shows anywhere but in the Secrets.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { PEM } from "../helpers";
import { Cluster, create, freshNamespace, KubeObject, readObject, useCluster } from "../cluster/cluster";
import { newStack, PulumiStack } from "./pulumi";
import { easyService, SpecFolder, trackingServer } from "./specs";

const NS = "safety";
const SECRETS = { aws_access_key: "AKIASAFETYTEST01", aws_secret_key: "s3cr3t-safety-value", backend_uri: "postgresql://mlflow:hunter2-safety@db/mlflow" };
let c: Cluster;
let stack: PulumiStack;
const specs = new SpecFolder();

before(async () => {
  c = await useCluster();
  await freshNamespace(c, NS);
  stack = await newStack(c.toolchain, { config: { specs: specs.dir }, kubeconfig: c.kubeconfig });
});

after(async () => {
  await stack?.destroy();
  await stack?.remove();
  specs.remove();
});

const get = (kind: string, apiVersion: string, name: string) => readObject(c, { apiVersion, kind, metadata: { name, namespace: NS } });
const secretData = async (name: string) => (await get("Secret", "v1", name))?.data as Record<string, string> | undefined;

describe("data safety under the real engine", () => {
  const store = trackingServer(NS, "store", { ...SECRETS, volumeSize: "1Gi", storageClassName: "standard", ...PEM, url: "https://store.example.com" });
  const web = easyService(NS, "web", { size: 1, image: "nginx:1.25" });

  test("an invalid edit keeps the object's children and its Secrets' values; the run reports it and applies the others", async () => {
    specs.write([store, web]);
    await stack.up();
    const credentials = await secretData("store-credentials");
    const tls = await secretData("store");
    const deployment = await get("Deployment", "apps/v1", "store");
    assert.ok(credentials?.AWS_SECRET_ACCESS_KEY && tls?.["tls.key"]);

    specs.write([{ ...store, spec: { ...store.spec, size: -1, aws_secret_key: "changed-but-invalid" } }, { ...web, spec: { ...web.spec, size: 2 } }]);
    const run = await stack.tryUp();
    assert.notEqual(run.code, 0, "problems in the files fail the run");
    assert.match(run.stdout, new RegExp(`TrackingServer ${NS}/store: spec.size: -1 is outside`));
    assert.deepEqual(await secretData("store-credentials"), credentials);
    assert.deepEqual(await secretData("store"), tls);
    const now = await get("Deployment", "apps/v1", "store");
    assert.deepEqual(now?.spec, deployment?.spec);
    assert.equal((await get("Deployment", "apps/v1", "web"))?.spec.replicas, 2, "the other object is applied");
  });

  test("no secret value in a problem line, the run's output, its events, the stack outputs or the state", async () => {
    specs.write([{ ...store, spec: { ...store.spec, aws_secret_key: 123456789 } }, web]);
    const run = await stack.tryUp();
    const events = await stack.tryUp("--json");
    assert.match(run.stdout, /spec.aws_secret_key: \(secret\) is not a string/);
    const texts = {
      run: run.stdout + run.stderr,
      // The engine's event stream, less the Node SDK's debug diagnostics: it logs every RegisterResource
      // response at debug level, secrets unwrapped (a Secret's data, a secret spec field), which no
      // program can prevent. README, "Secrets", says not to publish `--json` output for that reason.
      events: events.stdout.split("\n").filter((line) => !line.includes('"severity":"debug"')).join("\n") + events.stderr,
      outputs: JSON.stringify(await stack.outputs(false)),
      state: await stack.exportState(),
      stateFiles: filesUnder(path.join(stack.folder, "state")).map((file) => fs.readFileSync(file, "utf8")).join("\n"),
    };
    const leaks: string[] = [];
    for (const [where, text] of Object.entries(texts)) {
      const values = [...Object.values(SECRETS), "123456789", "hunter2-safety", PEM.key.split("\n")[1]];
      for (const value of [...values, ...values.map((v) => Buffer.from(v).toString("base64"))]) {
        const at = text.indexOf(value);
        if (at >= 0) leaks.push(`${value} in ${where}: …${text.slice(Math.max(0, at - 200), at + 40)}…`);
      }
    }
    assert.deepEqual(leaks, []);
  });

  test("objects whose children would share a name: the later one is a problem, and the run does not stop on a duplicate URN", async () => {
    const holder = trackingServer(NS, "clash", {});
    const taker = trackingServer(NS, "clash-credentials", PEM);
    specs.write([store, web, holder, taker]);
    const run = await stack.tryUp();
    assert.notEqual(run.code, 0, "problems in the files fail the run");
    assert.match(run.stdout, new RegExp(`TrackingServer ${NS}/clash-credentials: metadata.name: "clash-credentials" would make the Secret "clash-credentials", which TrackingServer ${NS}/clash already has`));
    assert.doesNotMatch(run.stdout + run.stderr, /[Dd]uplicate resource URN/);
    assert.ok(await get("Deployment", "apps/v1", "clash"), "the earlier object is applied");
    assert.equal((await get("Secret", "v1", "clash-credentials"))?.type, "Opaque", "its Secret is its own");
  });

  test("removing an object deletes its children, except a claim it asked to retain", async () => {
    const kept = trackingServer(NS, "kept", { volumeSize: "1Gi", storageClassName: "standard", retainVolume: true });
    specs.write([store, web, kept]);
    await stack.up();
    const claim = await get("PersistentVolumeClaim", "v1", "kept");
    assert.ok(claim);
    specs.write([web, kept]);
    await stack.up();
    for (const [kind, apiVersion, name] of [["Deployment", "apps/v1", "store"], ["Service", "v1", "store"], ["Secret", "v1", "store-credentials"], ["Secret", "v1", "store"], ["Ingress", "networking.k8s.io/v1", "store"]]) {
      assert.equal(await get(kind, apiVersion, name), undefined, `${kind} ${name} is deleted`);
    }
    specs.write([web]);
    await stack.up();
    assert.equal(await get("Deployment", "apps/v1", "kept"), undefined);
    assert.equal((await get("PersistentVolumeClaim", "v1", "kept"))?.metadata.uid, claim.metadata.uid, "the retained claim stays");
  });

  test("installCrds from true to false, destroy and removing the stack keep the CRDs and the custom resources made elsewhere", async () => {
    const elsewhere = await create(c, trackingServer(NS, "elsewhere", {}));
    const child = await create(c, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "elsewhere-child", namespace: NS, ownerReferences: [{ apiVersion: elsewhere.apiVersion, kind: elsewhere.kind, name: "elsewhere", uid: elsewhere.metadata.uid }] },
      data: { a: "b" },
    } as KubeObject);
    const survives = async (when: string) => {
      assert.ok(await readObject(c, elsewhere), `the custom resource survives ${when}`);
      assert.ok(await readObject(c, child), `its child survives ${when}`);
      for (const name of ["trackingservers.experiment.aiscope", "easyservices.app.kubebuilder.io"]) {
        assert.ok(await readObject(c, { apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", metadata: { name } }), `${name} survives ${when}`);
      }
    };
    stack.setConfig({ specs: specs.dir, installCrds: false });
    await stack.up();
    await survives("installCrds: false");
    await stack.destroy();
    await survives("pulumi destroy");
    await stack.run(["stack", "rm", "--yes", "--force"]);
    await survives("pulumi stack rm");
    stack = await newStack(c.toolchain, { config: { specs: specs.dir }, kubeconfig: c.kubeconfig });
  });
});

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(file) : [file];
  });
}
