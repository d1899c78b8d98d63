// The generated CRDs, the examples, and the corpus of bad specs, against a real API server. (What
// render prints for the examples is created by the real engine in test/engine/examples.test.ts.)
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, test } from "node:test";
import { load } from "js-yaml";
import { run } from "../../cli/main";
import { crdManifests } from "../../model/crd";
import { badCases, documentsOf, EXAMPLES } from "../helpers";
import { apply, Cluster, create, freshNamespace, installCrds, KubeObject, readObject, remove, statusOf, useCluster } from "./cluster";

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
    assert.ok(rejected >= 20, `${rejected} of ${cases.length} rejected by the API server`);
  });
});
