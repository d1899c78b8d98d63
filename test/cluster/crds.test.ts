// The generated CRDs, the examples, and the corpus of bad specs, against a real API server. (What
// render prints for the examples is created by the real engine in test/engine/examples.test.ts.)
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, test } from "node:test";
import { load } from "js-yaml";
import { run } from "../../cli/main";
import { crdManifests } from "../../model/crd";
import { parseObject } from "../../model/objects";
import { badCases, documentsOf, EXAMPLES, PEM } from "../helpers";
import { ApiError, apply, Cluster, create, freshNamespace, installCrds, KubeObject, readObject, remove, statusOf, useCluster } from "./cluster";

let c: Cluster;
before(async () => {
  c = await useCluster();
  await installCrds(c, crdManifests() as KubeObject[]);
});

describe("CRDs", () => {
  test("install on the API server and are established", async () => {
    for (const crd of crdManifests()) assert.ok(await readObject(c, crd as KubeObject), crd.metadata.name);
  });

  test("kubectl get shows the printer columns", async () => {
    const namespace = await freshNamespace(c, "columns");
    await apply(c, { apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: { name: "cols", namespace }, spec: { s3_endpoint_url: "http://minio:9000", artifact_root: "s3://bucket/" } } as KubeObject);
    await apply(c, { apiVersion: "app.kubebuilder.io/v1", kind: "EasyService", metadata: { name: "cols", namespace }, spec: { size: 2, image: "nginx:1.7.9" } } as KubeObject);
    const servers = c.kubectl("get", "trackingservers", "-n", namespace).split("\n");
    assert.match(servers[0], /^NAME\s+S3_ENDPOINT_URL\s+ARTIFACT_ROOT\s+URL\s+READY\s+AGE$/);
    assert.match(servers[1], /^cols\s+http:\/\/minio:9000\s+s3:\/\/bucket\/\s+/);
    const services = c.kubectl("get", "es", "-n", namespace).split("\n");
    assert.match(services[0], /^NAME\s+IMAGE\s+SIZE\s+AVAILABLE\s+READY\s+AGE$/);
    assert.match(services[1], /^cols\s+nginx:1.7.9\s+2\s+/);
  });

  test("the API server applies the schema's defaults", async () => {
    const namespace = await freshNamespace(c, "defaults");
    const created = (await create(c, { apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: { name: "d", namespace }, spec: {} } as KubeObject));
    assert.equal(created.spec.size, 1);
  });
});

describe("examples", () => {
  test("every example file is accepted as it is", async () => {
    const namespace = await freshNamespace(c, "examples-raw");
    for (const file of fs.readdirSync(EXAMPLES)) {
      for (const object of documentsOf(fs.readFileSync(path.join(EXAMPLES, file), "utf8"))) {
        object.metadata.namespace = namespace;
        await create(c, object);
      }
    }
  });
});

describe("bad specs", () => {
  test("each is rejected by validate and, where the CRD schema can express the rule, by the API server", async () => {
    const namespace = await freshNamespace(c, "corpus");
    const mismatches: string[] = [];
    const cases = badCases();
    for (const bad of cases) {
      assert.notEqual(run(["validate", bad.file]).code, 0, bad.file);
      const object = load(fs.readFileSync(bad.file, "utf8")) as KubeObject;
      if (object.metadata?.namespace === "default") object.metadata.namespace = namespace;
      let outcome: "rejected" | "accepted";
      let detail = "";
      try {
        await create(c, object);
        outcome = "accepted";
        await remove(c, object);
      } catch (error) {
        if (statusOf(error) === 0) throw error;
        outcome = "rejected";
        detail = ` (${statusOf(error)})`;
      }
      if (outcome !== bad.apiserver) mismatches.push(`${path.basename(bad.file)}: expected ${bad.apiserver}, was ${outcome}${detail}`);
    }
    assert.deepEqual(mismatches, []);
    const rejected = cases.filter((bad) => bad.apiserver === "rejected").length;
    assert.ok(rejected >= 60, `${rejected} of ${cases.length} rejected by the API server`);
  });
});

const ts = (namespace: string, spec: Record<string, unknown>): KubeObject => ({ apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: { name: "bad", namespace }, spec });
const es = (namespace: string, spec: Record<string, unknown>, name = "bad"): KubeObject => ({ apiVersion: "app.kubebuilder.io/v1", kind: "EasyService", metadata: { name, namespace }, spec: { size: 1, image: "nginx", ...spec } });

/** What the API server says when a server-side apply (`kubectl apply --server-side`) of `object` is refused; undefined when it takes it. */
async function refusalOf(c: Cluster, object: KubeObject): Promise<{ message: string; fields: string[] } | undefined> {
  try {
    await apply(c, object);
    await remove(c, object);
    return undefined;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    const status = JSON.parse(error.body) as { message: string; details?: { causes?: { field?: string }[] } };
    return { message: status.message, fields: (status.details?.causes ?? []).map((cause) => cause.field ?? "") };
  }
}

describe("admission", () => {
  test("the API server refuses specs that break a rule between fields, on the field it is about", async () => {
    const namespace = await freshNamespace(c, "admission");
    // Each spec breaks one rule; the field is the one the refusal names (validate names the same, or an item
    // of that list). Server-side apply refuses two items of a list-map with one key before validation, in
    // its message only.
    const cases: [KubeObject, string][] = [
      [ts(namespace, { cert: PEM.cert }), "spec.key"],
      [ts(namespace, { storageClassName: "fast" }), "spec.volumeSize"],
      [ts(namespace, { size: 2, artifact_root: "s3://bucket/runs" }), "spec.size"],
      [ts(namespace, { size: 2, backend_uri: "postgresql://db/mlflow" }), "spec.size"],
      [ts(namespace, { serveArtifacts: false, artifact_root: "file:///data" }), "spec.serveArtifacts"],
      [ts(namespace, { s3CredentialsSecret: "s3", aws_access_key: "AKIA", aws_secret_key: "key" }), "spec.s3CredentialsSecret"],
      [ts(namespace, { volumeSize: "0Gi" }), "spec.volumeSize"],
      [ts(namespace, { resources: { requests: { memory: "4Gi" }, limits: { memory: "2Gi" } } }), "spec.resources.requests[memory]"],
      [es(namespace, { resources: { requests: { cpu: 2 }, limits: { cpu: "1500m" } } }), "spec.resources.requests[cpu]"],
      [es(namespace, { resources: { limits: { gpu: "1" } } }), "spec.resources.limits"],
      [es(namespace, { envs: [{ name: "A", value: "1" }, { name: "A", value: "2" }] }), "spec.envs"],
      [es(namespace, { envs: [{ name: "A", value: "1", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }] }), "spec.envs[0].valueFrom"],
      [es(namespace, { envs: [{ name: "A", valueFrom: {} }] }), "spec.envs[0].valueFrom"],
      [es(namespace, { envs: [{ name: "A", valueFrom: { resourceFieldRef: { resource: "limits.cpu", divisor: "1Mi" } } }] }), "spec.envs[0].valueFrom.resourceFieldRef.divisor"],
      [es(namespace, { ports: [{ port: 80 }, { port: 81 }] }), "spec.ports"],
      [es(namespace, { ports: [{ name: "a", port: 80 }, { name: "b", port: 80 }] }), "spec.ports"],
      [es(namespace, { ports: [{ name: "a", port: 80, nodePort: 31000 }, { name: "b", port: 81, nodePort: 31000 }] }), "spec.ports"],
      [es(namespace, { ports: [{ name: "a", port: 80, targetPort: "web" }, { name: "web", port: 81 }] }), "spec.ports"],
      [es(namespace, { ports: [{ port: 80, targetPort: "8080" }] }), "spec.ports[0].targetPort"],
      [es(namespace, {}, "1web"), "metadata.name"],
    ];
    const wrong: string[] = [];
    for (const [object, field] of cases) {
      assert.ok(!parseObject(object).ok, `validate takes ${JSON.stringify(object.spec)}`);
      const refused = await refusalOf(c, object);
      if (refused === undefined || !(refused.fields.includes(field) || refused.message.includes(`.${field}: duplicate entries`))) wrong.push(`${JSON.stringify(object.spec)}: expected a refusal on ${field}, got ${refused === undefined ? "none" : refused.message}`);
    }
    assert.deepEqual(wrong, []);
  });

  test('"" in a TrackingServer\'s string field means unset to the rules as well', async () => {
    const namespace = await freshNamespace(c, "admission-empty");
    // As objects made for the original controller carry them: every string field, most of them empty.
    const unset = { image: "", s3_endpoint_url: "", aws_access_key: "", aws_secret_key: "", artifact_root: "", backend_uri: "", url: "", volumeSize: "", storageClassName: "", s3CredentialsSecret: "", cert: "", key: "" };
    assert.equal(await refusalOf(c, ts(namespace, unset)), undefined);
    assert.equal(await refusalOf(c, ts(namespace, { ...unset, s3CredentialsSecret: "s3" })), undefined);
    assert.equal(await refusalOf(c, ts(namespace, { ...unset, size: 2, backend_uri: "mysql://db/m", artifact_root: "s3://bucket/x" })), undefined);
    assert.deepEqual((await refusalOf(c, ts(namespace, { ...unset, cert: PEM.cert })))?.fields, ["spec.key"]);
    assert.deepEqual((await refusalOf(c, ts(namespace, { ...unset, storageClassName: "fast" })))?.fields, ["spec.volumeSize"]);
    assert.deepEqual((await refusalOf(c, ts(namespace, { ...unset, size: 2, artifact_root: "s3://bucket/x" })))?.fields, ["spec.size"]);
  });

  test("a refusal names a secret field without showing its value", async () => {
    const namespace = await freshNamespace(c, "admission-secrets");
    const refused = await refusalOf(c, ts(namespace, { aws_access_key: "AKIA SECRETID", aws_secret_key: "s3cr3t value", backend_uri: "mysql://root:hunter2 x@db/m", cert: PEM.cert, key: "private key text" }));
    assert.deepEqual(refused?.fields.sort(), ["spec.aws_access_key", "spec.aws_secret_key", "spec.backend_uri", "spec.key"]);
    for (const secret of ["AKIA", "s3cr3t", "hunter2", "private key text"]) assert.ok(!refused!.message.includes(secret), `${secret} shown: ${refused!.message}`);
  });
});
