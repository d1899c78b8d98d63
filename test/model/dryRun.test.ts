import assert from "node:assert/strict";
import { test } from "node:test";
import { childrenOf } from "../../builders/plan";
import { changingChildren, refusalProblem } from "../../model/dryRun";
import { existingObject, indexExisting } from "../../model/existing";
import { CustomObject } from "../../model/objects";
import { easyService, trackingServer } from "../helpers";

const OPTIONS = { defaultImage: "ghcr.io/mlflow/mlflow:v3.1.1" };
const SPEC = { size: 1, volumeSize: "1Gi", aws_access_key: "AKIA", aws_secret_key: "s3cr3t", url: "https://mlflow.example.com" };
const server = trackingServer(SPEC);
/** Everything the object's children are, as the cluster lists them. */
const allOf = (object: CustomObject) => indexExisting(childrenOf(object, OPTIONS).map((child) => existingObject(child.kind as any, { name: child.metadata.name, namespace: "team-a" })));
const names = (object: CustomObject, last: CustomObject | undefined, existing = allOf(object)) => changingChildren(object, last, existing, OPTIONS).map((child) => `${child.kind}/${child.metadata.name}`);
/** The last applied spec as the status keeps it: secret fields read `(secret)`. */
const asStored = (spec: Record<string, unknown>) => trackingServer({ ...spec, aws_access_key: "(secret)", aws_secret_key: "(secret)" });

test("an object without a last applied spec dry-runs every child", () => {
  assert.deepEqual(names(server, undefined), childrenOf(server, OPTIONS).map((child) => `${child.kind}/${child.metadata.name}`));
});

test("an unchanged object dry-runs nothing, its secret values read (secret) in the status", () => {
  assert.deepEqual(names(server, asStored(SPEC)), []);
});

test("a larger volumeSize dry-runs the claim only; a new url, the Ingress (and what reads the url)", () => {
  assert.deepEqual(names(trackingServer({ ...SPEC, volumeSize: "2Gi" }), asStored(SPEC)), ["PersistentVolumeClaim/mlflow"]);
  const moved = names(trackingServer({ ...SPEC, url: "https://other.example.com" }), asStored(SPEC));
  assert.ok(moved.includes("Ingress/mlflow"), moved.join());
  assert.ok(!moved.includes("PersistentVolumeClaim/mlflow"), moved.join());
});

test("a child missing from the cluster is dry-run even when the spec did not change", () => {
  const existing = allOf(server);
  existing.delete([...existing.keys()].find((key) => key.startsWith("Service"))!);
  assert.deepEqual(names(server, asStored(SPEC), existing), ["Service/mlflow"]);
});

test("children are dry-run without ownerReferences", () => {
  for (const child of changingChildren(server, undefined, indexExisting([]), OPTIONS)) assert.equal(child.metadata.ownerReferences, undefined, child.kind);
});

test("a refusal is Refused on the field that makes the child, quoting the API server", () => {
  const [claim] = changingChildren(trackingServer({ ...SPEC, volumeSize: "2Gi" }), asStored(SPEC), allOf(server), OPTIONS);
  const message = 'persistentvolumeclaims "mlflow" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize';
  assert.deepEqual(refusalProblem(server, claim, message), { path: "spec.volumeSize", message: `the API server refuses the PersistentVolumeClaim "mlflow": ${message}`, reason: "Refused" });
  const ingress = childrenOf(server, OPTIONS).find((child) => child.kind === "Ingress")!;
  assert.equal(refusalProblem(server, ingress, "denied").path, "spec.url");
  const deployment = childrenOf(server, OPTIONS).find((child) => child.kind === "Deployment")!;
  assert.equal(refusalProblem(server, deployment, "denied").path, "metadata.name");
});

test("a NodePort already allocated stays a Collision on the port the API server names", () => {
  const web = easyService({ size: 1, image: "nginx", ports: [{ name: "a", port: 80 }, { name: "b", port: 81, nodePort: 30081 }, { name: "c", port: 82, nodePort: 30082 }] });
  const service = childrenOf(web, OPTIONS).find((child) => child.kind === "Service")!;
  const message = 'Service "web" is invalid: spec.ports[2].nodePort: Invalid value: 30082: provided port is already allocated';
  assert.deepEqual(refusalProblem(web, service, message), { path: "spec.ports[2].nodePort", message: `the API server refuses the Service "web": ${message}`, reason: "Collision" });
  assert.deepEqual(refusalProblem(web, service, "admission webhook denied the request"), { path: "metadata.name", message: 'the API server refuses the Service "web": admission webhook denied the request', reason: "Refused" });
});
