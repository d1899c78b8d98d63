import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { statusEntry } from "../../builders/status";
import { parseObject } from "../../model/objects";
import { FIELD_MANAGER, handOverFields, handoverOf, mergeFields, ORIGINAL_FINALIZER } from "../../model/takeover";
import { trackingServer } from "../helpers";

const ORIGINAL_SPEC = {
  size: 1, image: "ghcr.io/mlflow/mlflow:v3.1.1", s3_endpoint_url: "", aws_access_key: "", aws_secret_key: "", artifact_root: "",
  backend_uri: "", url: "https://mlflow.example.com", volumeSize: "", storageClassName: "", cert: "", key: "",
};

describe("objects made for the original controllers", () => {
  test('"" means unset in a TrackingServer, as it did', () => {
    const parsed = parseObject({ apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: { name: "old" }, spec: ORIGINAL_SPEC });
    assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
    assert.deepEqual(parsed.object.spec, { size: 1, image: "ghcr.io/mlflow/mlflow:v3.1.1", url: "https://mlflow.example.com" });
  });

  test("storageClassName without volumeSize is still a problem", () => {
    const parsed = parseObject({ apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: { name: "old" }, spec: { ...ORIGINAL_SPEC, storageClassName: "fast" } });
    assert.ok(!parsed.ok);
    assert.deepEqual(parsed.problems, [{ path: "spec.volumeSize", message: "is required with `storageClassName`: set the size of the volume" }]);
  });

  test("an EasyService named trackingserver is refused: its selector would take the TrackingServers' pods", () => {
    const parsed = parseObject({ apiVersion: "app.kubebuilder.io/v1", kind: "EasyService", metadata: { name: "trackingserver" }, spec: { size: 1, image: "nginx" } });
    assert.ok(!parsed.ok);
    assert.deepEqual(parsed.problems.map((p) => p.path), ["metadata.name"]);
    assert.match(parsed.problems[0].message, /app: trackingserver/);
  });

  test("the status says which StorageClass the claim has", () => {
    const report = (spec: Record<string, unknown>) => statusEntry({ kind: "TrackingServer", namespace: "team-a", name: "mlflow", problems: [], applied: trackingServer(spec) }, undefined).status.volume;
    assert.equal(report({ volumeSize: "5Gi" }), "PersistentVolumeClaim mlflow (5Gi, the cluster's default StorageClass)");
    assert.equal(report({ volumeSize: "5Gi", storageClassName: "fast" }), "PersistentVolumeClaim mlflow (5Gi, StorageClass fast)");
    assert.equal(report({}), undefined);
  });

  test("the original controllers' marks: the TrackingServer finalizer, the EasyService spec annotation", () => {
    assert.deepEqual(handoverOf("TrackingServer", { metadata: { finalizers: ["other", ORIGINAL_FINALIZER] } }), { finalizers: [ORIGINAL_FINALIZER], annotations: [] });
    assert.deepEqual(handoverOf("EasyService", { metadata: { annotations: { spec: '{"size":1,"image":"nginx"}' } } }), { finalizers: [], annotations: ["spec"] });
    assert.equal(handoverOf("EasyService", { metadata: { annotations: { spec: "a note of the user's" } } }), undefined);
    assert.equal(handoverOf("TrackingServer", { metadata: { finalizers: ["other"] } }), undefined);
    assert.equal(handoverOf("EasyService", { metadata: { finalizers: [ORIGINAL_FINALIZER] } }), undefined);
  });
});

describe("handing fields over", () => {
  const controller = { manager: "manager", operation: "Update", apiVersion: "apps/v1", fieldsType: "FieldsV1", fieldsV1: { "f:spec": { "f:replicas": {}, "f:template": { "f:spec": { "f:containers": { 'k:{"name":"mlflow"}': { "f:env": {} } } } } } } };
  const kubectl = { manager: "kubectl-edit", operation: "Update", apiVersion: "apps/v1", fieldsType: "FieldsV1", fieldsV1: { "f:metadata": { "f:labels": { "f:team": {} } } } };
  const status = { manager: "kube-controller-manager", operation: "Update", apiVersion: "apps/v1", subresource: "status", fieldsType: "FieldsV1", fieldsV1: { "f:status": {} } };
  const revision = { manager: "kube-controller-manager", operation: "Update", apiVersion: "apps/v1", fieldsType: "FieldsV1", fieldsV1: { "f:metadata": { "f:annotations": { "f:deployment.kubernetes.io/revision": {} } } } };
  const ours = { manager: FIELD_MANAGER, operation: "Apply", apiVersion: "apps/v1", fieldsType: "FieldsV1", fieldsV1: { "f:spec": { "f:replicas": {} } } };

  test("updates by controllers and kubectl become the program's apply; Kubernetes' own entries and status stay", () => {
    const after = handOverFields([controller, kubectl, status, revision], "Deployment", "apps/v1", "now")!;
    assert.deepEqual(after.slice(0, 2), [status, revision]);
    assert.equal(after.length, 3);
    const entry = after[2];
    assert.deepEqual({ manager: entry.manager, operation: entry.operation, time: entry.time }, { manager: FIELD_MANAGER, operation: "Apply", time: "now" });
    assert.deepEqual(entry.fieldsV1, {
      "f:spec": {
        "f:strategy": { "f:rollingUpdate": { ".": {}, "f:maxSurge": {}, "f:maxUnavailable": {} }, "f:type": {} },
        "f:replicas": {},
        "f:template": { "f:spec": { "f:containers": { 'k:{"name":"mlflow"}': { "f:env": {} } } } },
      },
      "f:metadata": { "f:labels": { "f:team": {} } },
    });
  });

  test("nothing to hand over, or an object the program applied already, changes nothing", () => {
    assert.equal(handOverFields([status, revision], "Deployment", "apps/v1", "now"), undefined);
    assert.equal(handOverFields([controller, kubectl, ours], "Deployment", "apps/v1", "now"), undefined, "a tenant's mark cannot strip others' fields from the program's own children");
  });

  test("an entry of another apiVersion keeps its owner: its field paths are that version's", () => {
    const old = { ...controller, apiVersion: "extensions/v1beta1" };
    assert.equal(handOverFields([old], "Deployment", "apps/v1", "now"), undefined);
  });

  test("a claim hands over its metadata only: its spec cannot change", () => {
    const claim = { manager: "manager", operation: "Update", apiVersion: "v1", fieldsType: "FieldsV1", fieldsV1: { "f:metadata": { "f:ownerReferences": {} }, "f:spec": { "f:storageClassName": {} } } };
    const after = handOverFields([claim], "PersistentVolumeClaim", "v1", "now", true)!;
    assert.deepEqual(after.map((e) => [e.manager, e.fieldsV1]), [["manager", { "f:spec": { "f:storageClassName": {} } }], [FIELD_MANAGER, { "f:metadata": { "f:ownerReferences": {} } }]]);
  });

  test("drift: with reclaim, what someone updated on the program's own object joins the program's apply entry", () => {
    const ours = { manager: FIELD_MANAGER, operation: "Apply", apiVersion: "v1", time: "t1", fieldsType: "FieldsV1", fieldsV1: { "f:spec": { "f:ports": { 'k:{"port":80,"protocol":"TCP"}': {} } } } };
    const patch = { manager: "kubectl-patch", operation: "Update", apiVersion: "v1", time: "t2", fieldsType: "FieldsV1", fieldsV1: { "f:spec": { "f:ports": { 'k:{"port":81,"protocol":"TCP"}': {} } } } };
    const system = { manager: "kube-controller-manager", operation: "Update", apiVersion: "v1", time: "t2", fieldsType: "FieldsV1", fieldsV1: { "f:metadata": { "f:annotations": {} } } };
    assert.equal(handOverFields([ours, patch, system], "Service", "v1", "now"), undefined, "without reclaim an object the program applied is left as it is");
    const after = handOverFields([ours, patch, system], "Service", "v1", "now", false, true)!;
    assert.deepEqual(after, [system, {
      manager: FIELD_MANAGER, operation: "Apply", apiVersion: "v1", time: "now", fieldsType: "FieldsV1",
      fieldsV1: { "f:spec": { "f:ports": { 'k:{"port":80,"protocol":"TCP"}': {}, 'k:{"port":81,"protocol":"TCP"}': {} } } },
    }]);
    assert.equal(handOverFields([ours, system], "Service", "v1", "now", false, true), undefined, "nothing updated by hand: nothing changes");
  });

  test("field sets merge as a union", () => {
    assert.deepEqual(mergeFields({ "f:a": { "f:b": {} } }, { "f:a": { "f:c": {} }, "f:d": {} }), { "f:a": { "f:b": {}, "f:c": {} }, "f:d": {} });
  });
});
