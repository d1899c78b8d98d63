import assert from "node:assert/strict";
import { test } from "node:test";
import { existingObject, indexExisting } from "../../model/existing";
import { markersOf, REAPPLIED_ANNOTATION, RECREATED_ANNOTATION } from "../../model/markers";
import { easyService } from "../helpers";

const APPLIED = "2026-01-01T10:00:00Z";
const EDITED = "2026-01-01T10:05:00Z";
const applied = { manager: "crdstack", operation: "Apply", time: APPLIED };
const web = easyService({ size: 1, image: "nginx", ports: [{ port: 80 }] });
const child = (kind: "Deployment" | "Service", annotations: Record<string, string> = {}, managedFields = [applied]) =>
  existingObject(kind, { name: "web", namespace: "team-a", annotations, managedFields });

test("without what the cluster holds there are no markers: nothing is put back", () => {
  assert.equal(markersOf(web, undefined, [], "run-1"), undefined);
});

test("a child missing from the cluster gets this run's recreated marker; one that is there keeps the markers it carries", () => {
  const markers = markersOf(web, indexExisting([child("Deployment", { [RECREATED_ANNOTATION]: "run-0", [REAPPLIED_ANNOTATION]: "t0" })]), [], "run-1")!;
  assert.deepEqual(Object.fromEntries(markers), {
    "Deployment web": { [RECREATED_ANNOTATION]: "run-0", [REAPPLIED_ANNOTATION]: "t0" },
    "Service web": { [RECREATED_ANNOTATION]: "run-1" },
  });
});

test("a child taken back from a hand edit gets the edit's time as its reapplied marker; without an edit since the last apply it keeps its own", () => {
  const edited = child("Service", {}, [applied, { manager: "kubectl-edit", operation: "Update", time: EDITED }]);
  const markers = markersOf(web, indexExisting([child("Deployment"), edited]), [{ kind: "Service", name: "web" }], "run-1")!;
  assert.deepEqual(markers.get("Service web"), { [REAPPLIED_ANNOTATION]: EDITED });
  assert.deepEqual(markers.get("Deployment web"), {});
  const again = markersOf(web, indexExisting([child("Deployment"), child("Service", { [REAPPLIED_ANNOTATION]: EDITED })]), [{ kind: "Service", name: "web" }], "run-2")!;
  assert.deepEqual(again.get("Service web"), { [REAPPLIED_ANNOTATION]: EDITED }, "the same value: the next run changes nothing");
});
