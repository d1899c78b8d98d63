// The whole program (index.ts) under Pulumi's mocks, against what `render` prints for the same specs.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { load } from "js-yaml";
import * as pulumi from "@pulumi/pulumi";
import { recordResources, settled, unwrapSecrets, valueOf } from "./mocks";
const registered = recordResources();
import { run } from "../cli/main";
import { documentsOf, EXAMPLES, ROOT } from "./helpers";
import { DELETION_PROPAGATION, PATCH_FIELD_MANAGER, PATCH_FORCE, SKIP_AWAIT } from "../components/children";
import { OWNER_UID_ANNOTATION as OWNER_UID } from "../model/collisions";
import { FIELD_MANAGER } from "../model/takeover";

type Program = () => Promise<Record<string, any>>;

async function runProgram(config: Record<string, string>) {
  pulumi.runtime.setAllConfig(config);
  registered.length = 0;
  const program = require("../index") as Program;
  const outputs = await program();
  await settled();
  return outputs;
}

/**
 * A comparable key and body for a Kubernetes object, without what only the program adds: the
 * ownerReferences, the owner's uid, the provider's annotations: skipAwait (which must be "true" where it
 * is set), the field manager and the forced apply (which every object but the CRDs has), and the custom
 * resources' foreground deletion.
 */
function comparable(manifest: Record<string, any>, registered = false) {
  const { ownerReferences, annotations, ...metadata } = manifest.metadata;
  void ownerReferences;
  const { [SKIP_AWAIT]: skipAwait, [PATCH_FIELD_MANAGER]: fieldManager, [PATCH_FORCE]: force, [OWNER_UID]: ownerUid, [DELETION_PROPAGATION]: propagation, ...others } = annotations ?? {};
  void ownerUid;
  void propagation;
  assert.ok(skipAwait === undefined || skipAwait === "true", `${SKIP_AWAIT}: ${skipAwait}`);
  const expected = manifest.kind === "CustomResourceDefinition" ? [undefined, "true"] : [FIELD_MANAGER, "true"];
  if (registered) assert.deepEqual([fieldManager, force], expected, `${PATCH_FIELD_MANAGER} and ${PATCH_FORCE} of ${manifest.kind} ${metadata.name}`);
  if (Object.keys(others).length > 0) metadata.annotations = others;
  return [`${manifest.kind} ${metadata.namespace ?? ""}/${metadata.name}`, { ...manifest, metadata }] as const;
}

test("the program registers exactly the objects render prints, with the same contents", async () => {
  await runProgram({ "crdstack:specs": EXAMPLES });
  const rendered = run(["render", "--show-secrets", EXAMPLES]);
  assert.equal(rendered.code, 0, rendered.stderr);
  const printed = new Map(documentsOf(rendered.stdout).map((doc) => comparable(doc)));
  const kubernetes = registered.filter((resource) => resource.type.startsWith("kubernetes:"));
  const recorded = new Map(kubernetes.map((resource) => comparable(unwrapSecrets(resource.inputs) as Record<string, any>, true)));
  assert.deepEqual([...recorded.keys()].sort(), [...printed.keys()].sort());
  for (const [key, manifest] of printed) assert.deepEqual(recorded.get(key), manifest, key);
  assert.ok(printed.size >= 15, `${printed.size} objects`);
});

test("render lists objects in dependency order: CRDs, then each custom resource before its children", () => {
  const kinds = documentsOf(run(["render", EXAMPLES]).stdout).map((doc) => doc.kind as string);
  assert.deepEqual(kinds.slice(0, 2), ["CustomResourceDefinition", "CustomResourceDefinition"]);
  const trackingServer = kinds.indexOf("TrackingServer");
  assert.deepEqual(kinds.slice(trackingServer, trackingServer + 7), ["TrackingServer", "Secret", "Secret", "PersistentVolumeClaim", "Service", "Ingress", "Deployment"]);
});

test("an invalid spec is reported and left out; the valid ones are still declared", async () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), "crdstack-program-"));
  fs.copyFileSync(path.join(EXAMPLES, "easyservice-nginx.yaml"), path.join(folder, "good.yaml"));
  fs.writeFileSync(path.join(folder, "bad.yaml"), "apiVersion: app.kubebuilder.io/v1\nkind: EasyService\nmetadata:\n  name: bad\nspec:\n  size: 1\n  image: nginx\n  ports:\n    - port: 80\n      nodePort: 20\n");
  const errors: string[] = [];
  const original = pulumi.log.error;
  pulumi.log.error = async (message: string) => void errors.push(message);
  try {
    const outputs = await runProgram({ "crdstack:specs": folder, "crdstack:installCrds": "false" });
    assert.deepEqual(errors, [`${path.join(folder, "bad.yaml")}: EasyService default/bad: spec.ports[0].nodePort: 20 is outside 30000-32767`]);
    assert.deepEqual(outputs.problems, errors);
    const failing = registered.find((r) => r.name === "problems");
    assert.deepEqual(failing?.inputs.problems, errors, "the run fails once the rest is applied (test/engine/safety.test.ts)");
    const names = registered.filter((r) => r.type.startsWith("kubernetes:")).map((r) => `${r.type.split(":").pop()} ${r.name}`).sort();
    assert.deepEqual(names, ["Deployment default/easyservice-sample", "EasyService default/easyservice-sample", "Service default/easyservice-sample"]);
  } finally {
    pulumi.log.error = original;
    fs.rmSync(folder, { recursive: true });
  }
});

test("a typo in the stack configuration names the key", async () => {
  await assert.rejects(runProgram({ "crdstack:spec": "examples" }), /crdstack:spec: is not a known key/);
  await assert.rejects(runProgram({ "crdstack:installCrds": "maybe" }), /crdstack:installCrds: "maybe" is not a boolean/);
});

test("outputs: TrackingServer URLs and EasyService Deployments by namespace/name", async () => {
  const outputs = await runProgram({ "crdstack:specs": EXAMPLES });
  assert.deepEqual(outputs.trackingServers, {
    "default/trackingserver": "https://mlflow.example.com/platform",
    "default/mlflow-scratch": "http://mlflow-scratch.default.svc:5000",
  });
  const easy = outputs.easyServices as Record<string, pulumi.Output<string>>;
  assert.equal(await valueOf(easy["default/easyservice-sample"]), "easyservice-sample");
});

test("a bootstrap stack (crdstack:operator) registers the CRDs, the operator's chart and exactly what render --operator prints", async () => {
  const file = path.join(ROOT, "Pulumi.operator.yaml");
  const operator = (load(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> }).config["crdstack:operator"];
  const outputs = await runProgram({ "crdstack:operator": JSON.stringify(operator) });
  assert.deepEqual(outputs.stacks, ["crdstack"]);
  const printed = new Map(documentsOf(run(["render", "--operator", file]).stdout).map((doc) => comparable(doc)));
  const kubernetes = registered.filter((r) => r.type.startsWith("kubernetes:") && !r.type.includes("CustomResourceDefinition") && !r.type.includes("helm"));
  const recorded = new Map(kubernetes.map((r) => comparable(r.inputs)));
  assert.deepEqual([...recorded.keys()].sort(), [...printed.keys()].sort());
  for (const [key, manifest] of printed) assert.deepEqual(recorded.get(key), manifest, key);
  assert.equal(registered.filter((r) => r.type === "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition").length, 2);
  const chart = registered.find((r) => r.type === "kubernetes:helm.sh/v3:Release");
  assert.equal(chart?.inputs.chart, "oci://ghcr.io/pulumi/helm-charts/pulumi-kubernetes-operator");
  assert.ok(!registered.some((r) => r.name === "status"), "a bootstrap stack reconciles no specs");
});
