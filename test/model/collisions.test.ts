import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ADOPT_ANNOTATION, collisionProblems, OWNER_UID_ANNOTATION } from "../../model/collisions";
import { ExistingObject, existingObject, indexExisting, ListedKind } from "../../model/existing";
import { easyService, PEM, trackingServer } from "../helpers";

const UID = "11111111-1111-1111-1111-111111111111";
const found = (kind: ListedKind, name: string, metadata: Record<string, unknown> = {}): ExistingObject => existingObject(kind, { name, namespace: "team-a", ...metadata });
const controller = (uid: string, kind = "TrackingServer") => ({ ownerReferences: [{ apiVersion: "x/v1", kind, name: "owner", uid, controller: true }] });
const retainedLabels = { labels: { "app.kubernetes.io/managed-by": "crdstack" } };

describe("a child that exists must be the object's own", () => {
  const server = trackingServer({ volumeSize: "1Gi", url: "https://ml.example.com", ...PEM });

  test("children whose controller is the custom resource, or that carry its uid, are its own; nothing else is", () => {
    const existing = indexExisting([
      found("Deployment", "mlflow", controller(UID)),
      found("Service", "mlflow", { annotations: { [OWNER_UID_ANNOTATION]: UID } }),
      found("Secret", "mlflow-credentials", controller("another-uid")),
      found("Ingress", "mlflow"),
    ]);
    const problems = collisionProblems(server, { uid: UID }, existing);
    assert.deepEqual(problems.map((p) => [p.path, p.reason]), [["metadata.name", "Collision"], ["spec.url", "Collision"]]);
    assert.equal(problems[0].message, 'Secret team-a/mlflow-credentials exists and is not this TrackingServer\'s (it belongs to TrackingServer "owner" (uid another-uid)): choose another name or field value, delete that object');
    assert.equal(problems[1].message, `Ingress team-a/mlflow exists and is not this TrackingServer's (it was made outside crdstack): choose another name or field value, delete that object, or annotate it ${ADOPT_ANNOTATION}=true to hand it over to this TrackingServer`);
  });

  test("each child's problem is on the field that makes it", () => {
    const existing = indexExisting(["Secret", "PersistentVolumeClaim", "Ingress", "Deployment", "Service"].map((kind) => found(kind as ListedKind, "mlflow")));
    const paths = collisionProblems(server, { uid: UID }, existing).map((p) => p.path);
    assert.deepEqual(paths, ["spec.cert", "spec.volumeSize", "metadata.name", "spec.url", "metadata.name"]);
    const web = easyService({ size: 1, image: "nginx", ports: [{ port: 80, nodePort: 30080 }] }, "mlflow");
    assert.deepEqual(collisionProblems(web, { uid: UID }, existing).map((p) => `${p.path} ${p.message.split(" ")[0]}`), ["metadata.name Deployment", "metadata.name Service"]);
  });

  test("a claim crdstack retained is the object's own when its last applied spec has a volume; else the message says how to reuse it or start empty", () => {
    const claim = found("PersistentVolumeClaim", "mlflow", retainedLabels);
    const existing = indexExisting([claim]);
    const volume = trackingServer({ volumeSize: "1Gi" });
    assert.deepEqual(collisionProblems(volume, { uid: UID, lastAppliedSpec: { volumeSize: "1Gi" } }, existing), []);
    const problems = collisionProblems(volume, { uid: UID, lastAppliedSpec: { size: 1 } }, existing);
    assert.deepEqual(problems, [{
      path: "spec.volumeSize",
      reason: "Collision",
      message: `PersistentVolumeClaim team-a/mlflow was retained from an earlier object of this name, so it is not this TrackingServer's: to reuse its data, annotate it (kubectl annotate pvc mlflow -n team-a ${ADOPT_ANNOTATION}=true); to start with an empty volume, delete it`,
    }]);
    assert.deepEqual(collisionProblems(volume, { uid: UID }, indexExisting([found("PersistentVolumeClaim", "mlflow", { ...retainedLabels, annotations: { [ADOPT_ANNOTATION]: "true" } })])), [], "annotated: handed over");
    assert.equal(collisionProblems(volume, { uid: UID, lastAppliedSpec: { volumeSize: "1Gi" } }, indexExisting([found("PersistentVolumeClaim", "mlflow")])).length, 1, "a claim without crdstack's label is no retained claim");
  });

  test("the adopt annotation hands over only what no controller owns", () => {
    const web = easyService({ size: 1, image: "nginx" });
    const adopt = { annotations: { [ADOPT_ANNOTATION]: "true" } };
    assert.deepEqual(collisionProblems(web, { uid: UID }, indexExisting([found("Deployment", "web", adopt)])), []);
    assert.equal(collisionProblems(web, { uid: UID }, indexExisting([found("Deployment", "web", { ...adopt, ...controller("other", "ReplicaSet") })])).length, 1);
    assert.equal(collisionProblems(web, { uid: UID }, indexExisting([found("Deployment", "web", { annotations: { [ADOPT_ANNOTATION]: "yes" } })])).length, 1);
  });

  test("crdstack.io/owner-uid and crdstack.io/adopt count only on an object that no other controller holds", () => {
    const web = easyService({ size: 1, image: "nginx" });
    const annotated = { annotations: { [OWNER_UID_ANNOTATION]: UID, [ADOPT_ANNOTATION]: "true" } };
    assert.deepEqual(collisionProblems(web, { uid: UID }, indexExisting([found("Deployment", "web", annotated)])), [], "no controller: the annotation speaks");
    assert.deepEqual(collisionProblems(web, { uid: UID }, indexExisting([found("Deployment", "web", { ...annotated, ...controller(UID, "EasyService") })])), [], "its controller is the object itself");
    const problems = collisionProblems(web, { uid: UID }, indexExisting([found("Deployment", "web", { ...annotated, ...controller("other-uid", "ReplicaSet") })]));
    assert.deepEqual(problems, [{
      path: "metadata.name",
      reason: "Collision",
      message: 'Deployment team-a/web exists and is not this EasyService\'s (it belongs to ReplicaSet "owner" (uid other-uid)): choose another name or field value, delete that object',
    }]);
    const ownedByOther = { ownerReferences: [{ apiVersion: "x/v1", kind: "EasyService", name: "web", uid: UID, controller: false }, controller("other-uid").ownerReferences[0]] };
    assert.equal(collisionProblems(web, { uid: UID }, indexExisting([found("Deployment", "web", { ...annotated, ...ownedByOther })])).length, 1, "a plain ownerReference to the object does not make it the controller");
  });

  test("without a uid (the files source's first run), anything that exists collides unless it is to be adopted", () => {
    const web = easyService({ size: 1, image: "nginx" });
    assert.equal(collisionProblems(web, {}, indexExisting([found("Deployment", "web", { annotations: { [OWNER_UID_ANNOTATION]: "" } })])).length, 1);
    assert.equal(collisionProblems(web, {}, indexExisting([found("Deployment", "web", controller(""))])).length, 1);
    assert.deepEqual(collisionProblems(web, {}, indexExisting([found("Deployment", "other")])), [], "other names do not matter");
    assert.deepEqual(collisionProblems(web, {}, indexExisting([existingObject("Deployment", { name: "web", namespace: "team-b" })])), [], "nor other namespaces");
  });
});
