import assert from "node:assert/strict";
import { test } from "node:test";
import { existingObject, indexExisting } from "../../model/existing";
import { nodePortCheck, refusalProblem } from "../../model/nodePorts";
import { easyService, trackingServer } from "../helpers";

const UID = "u-1";
const ports = [{ name: "a", port: 80 }, { name: "b", port: 81, nodePort: 30081 }, { name: "c", port: 82, nodePort: 30082 }];
const web = easyService({ size: 1, image: "nginx", ports });
const ownService = indexExisting([existingObject("Service", { name: "web", namespace: "team-a", ownerReferences: [{ uid: UID, controller: true }] })]);

test("the Service is checked for every nodePort its own Service does not hold yet", () => {
  assert.deepEqual(nodePortCheck(web, { uid: UID }, indexExisting([]))?.ports, [1, 2]);
  assert.deepEqual(nodePortCheck(web, { uid: UID, lastAppliedSpec: { ports: [{ port: 81, nodePort: 30081 }] } }, ownService)?.ports, [2]);
  assert.equal(nodePortCheck(web, { uid: UID, lastAppliedSpec: { ports: ports.slice(1) } }, ownService), undefined, "all held");
  assert.deepEqual(nodePortCheck(web, { uid: "other", lastAppliedSpec: { ports: ports.slice(1) } }, ownService)?.ports, [1, 2], "a Service not its own holds nothing for it");
  assert.equal(nodePortCheck(easyService({ size: 1, image: "nginx", ports: [{ port: 80 }] }), {}, indexExisting([])), undefined);
  assert.equal(nodePortCheck(trackingServer({}), {}, indexExisting([])), undefined);
  assert.equal(nodePortCheck(web, {}, indexExisting([]))!.service.metadata.ownerReferences, undefined, "dry-run without ownerReferences");
});

test("a refusal is a Collision on the port the API server names, quoting it", () => {
  const check = nodePortCheck(web, {}, indexExisting([]))!;
  const message = 'Service "web" is invalid: spec.ports[2].nodePort: Invalid value: 30082: provided port is already allocated';
  assert.deepEqual(refusalProblem(check, message), { path: "spec.ports[2].nodePort", message: `the API server refuses the Service: ${message}`, reason: "Collision" });
  assert.equal(refusalProblem(check, "forbidden").path, "spec.ports[1].nodePort");
});
