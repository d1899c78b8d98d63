import assert from "node:assert/strict";
import { test } from "node:test";
import { driftOf } from "../../model/drift";
import { ExistingManager, existingObject, indexExisting, ListedKind } from "../../model/existing";
import { easyService } from "../helpers";

const APPLIED = "2026-01-01T10:00:00Z";
const child = (kind: ListedKind, managedFields: ExistingManager[]) => existingObject(kind, { name: "web", namespace: "team-a", managedFields });
const applied = { manager: "crdstack", operation: "Apply", time: APPLIED };
const web = easyService({ size: 1, image: "nginx", ports: [{ port: 80 }] });

test("a child missing since the last apply was deleted by hand", () => {
  assert.deepEqual(driftOf(web, indexExisting([child("Deployment", [applied])])), ["Service team-a/web was deleted"]);
});

test("an update by another manager after the program's apply is drift; Kubernetes' own managers, status writes and earlier updates are not", () => {
  const later = "2026-01-01T10:05:00Z";
  const deployment = child("Deployment", [
    applied,
    { manager: "kube-controller-manager", operation: "Update", time: later },
    { manager: "kubelet", operation: "Update", time: later },
    { manager: "kubectl-client-side-apply", operation: "Update", time: "2026-01-01T09:00:00Z" },
    { manager: "someone", operation: "Update", time: later, subresource: "status" },
    { manager: "other-apply", operation: "Apply", time: later },
  ]);
  const service = child("Service", [applied, { manager: "kubectl-edit", operation: "Update", time: later }]);
  assert.deepEqual(driftOf(web, indexExisting([deployment, service])), ["Service team-a/web: changed by kubectl-edit"]);
});

test("only children this run's spec still makes count", () => {
  const withoutPorts = easyService({ size: 1, image: "nginx" });
  assert.deepEqual(driftOf(web, indexExisting([child("Deployment", [applied])]), withoutPorts), []);
});
