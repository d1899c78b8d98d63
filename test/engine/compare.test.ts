import assert from "node:assert/strict";
import { test } from "node:test";
import { differences } from "./compare";

test("a manifest matches the server's object when every field it sets is there, with server additions allowed", () => {
  const manifest = { kind: "Secret", metadata: { name: "a", labels: { x: "1" } }, stringData: { key: "value" } };
  const server = { kind: "Secret", metadata: { name: "a", labels: { x: "1" }, uid: "u" }, data: { key: Buffer.from("value").toString("base64") }, type: "Opaque" };
  assert.deepEqual(differences(manifest, server), []);
});

test("a changed, missing or extra list item is named by its path", () => {
  const manifest = { kind: "Service", spec: { ports: [{ port: 80 }, { port: 81 }], type: "NodePort" } };
  assert.deepEqual(differences(manifest, { kind: "Service", spec: { ports: [{ port: 80 }, { port: 82 }] } }), [
    "spec.ports[1].port: expected 81, the server has 82",
    "spec.type: expected \"NodePort\", the server has undefined",
  ]);
  assert.deepEqual(differences(manifest, { kind: "Service", spec: { ports: [{ port: 80 }], type: "NodePort" } }), [
    "spec.ports: expected 2 items, the server has [{\"port\":80}]",
  ]);
});
