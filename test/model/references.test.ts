import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { existingObject, indexExisting, ListedKind } from "../../model/existing";
import { REFERABLE_LABEL, referenceProblems } from "../../model/references";
import { easyService, PEM, trackingServer } from "../helpers";

const found = (kind: ListedKind, name: string, labels: Record<string, string> = {}, type?: string) => existingObject(kind, { name, namespace: "team-a", labels }, type);
const referable = { [REFERABLE_LABEL]: "true" };
const env = (name: string, valueFrom: object) => ({ name, valueFrom });

describe("a spec may only name Secrets and ConfigMaps that allow it", () => {
  const web = easyService({
    size: 1,
    image: "nginx",
    envs: [
      { name: "PLAIN", value: "x" },
      env("TOKEN", { secretKeyRef: { name: "token", key: "t" } }),
      env("MODE", { configMapKeyRef: { name: "settings", key: "mode" } }),
      env("EXTRA", { secretKeyRef: { name: "extra", key: "e", optional: true } }),
      env("POD", { fieldRef: { fieldPath: "metadata.name" } }),
    ],
  });

  test("labelled objects may be named", () => {
    assert.deepEqual(referenceProblems(web, indexExisting([found("Secret", "token", referable), found("ConfigMap", "settings", referable), found("Secret", "extra", referable)])), []);
  });

  test("an unlabelled or wrongly labelled object is NotReferable, on the field that names it, with how to allow it", () => {
    const problems = referenceProblems(web, indexExisting([found("Secret", "token"), found("ConfigMap", "settings", { [REFERABLE_LABEL]: "yes" }), found("Secret", "extra")]));
    assert.deepEqual(problems.map((p) => [p.path, p.reason]), [
      ["spec.envs[1].valueFrom.secretKeyRef.name", "NotReferable"],
      ["spec.envs[2].valueFrom.configMapKeyRef.name", "NotReferable"],
      ["spec.envs[3].valueFrom.secretKeyRef.name", "NotReferable"],
    ]);
    assert.equal(problems[0].message, `Secret team-a/token does not allow specs to name it (the variable TOKEN): it needs the label ${REFERABLE_LABEL}: "true", which whoever owns it may add (kubectl label secret token -n team-a ${REFERABLE_LABEL}=true)`);
  });

  test("a missing object is NotFound, even when the reference is optional: true (one made later without the label would reach the pods)", () => {
    const problems = referenceProblems(web, indexExisting([found("ConfigMap", "settings", referable)]));
    assert.deepEqual(problems, [
      { path: "spec.envs[1].valueFrom.secretKeyRef.name", reason: "NotFound", message: `Secret team-a/token does not exist: create it with the label ${REFERABLE_LABEL}: "true" for the variable TOKEN, or name another one` },
      {
        path: "spec.envs[3].valueFrom.secretKeyRef.name",
        reason: "NotFound",
        message: `Secret team-a/extra does not exist: create it with the label ${REFERABLE_LABEL}: "true" for the variable EXTRA, or name another one (optional: true does not exempt it: pods would read a Secret of that name made later, whether it allows specs to name it or not)`,
      },
    ]);
    const optionalConfigMap = easyService({ size: 1, image: "nginx", envs: [env("MODE", { configMapKeyRef: { name: "later", key: "mode", optional: true } })] });
    assert.deepEqual(referenceProblems(optionalConfigMap, indexExisting([])).map((p) => [p.path, p.reason]), [["spec.envs[0].valueFrom.configMapKeyRef.name", "NotFound"]]);
  });

  test("a TrackingServer's s3CredentialsSecret, and a TLS Secret made elsewhere that its Ingress would use", () => {
    const server = trackingServer({ s3CredentialsSecret: "s3", url: "https://ml.example.com" });
    assert.deepEqual(referenceProblems(server, indexExisting([found("Secret", "s3", referable)])), [], "no Secret mlflow: no TLS");
    assert.deepEqual(referenceProblems(server, indexExisting([found("Secret", "s3", referable), found("Secret", "mlflow", {}, "Opaque")])), [], "not a TLS Secret: not used");
    assert.deepEqual(referenceProblems(server, indexExisting([found("Secret", "s3", referable), found("Secret", "mlflow", { "app.kubernetes.io/managed-by": "crdstack" }, "kubernetes.io/tls")])), [], "crdstack's own TLS Secret");
    const problems = referenceProblems(server, indexExisting([found("Secret", "mlflow", {}, "kubernetes.io/tls")]));
    assert.deepEqual(problems.map((p) => [p.path, p.reason]), [["spec.s3CredentialsSecret", "NotFound"], ["spec.url", "NotReferable"]]);
    assert.match(problems[1].message, /^Secret team-a\/mlflow does not allow specs to name it \(the Ingress's TLS certificate\)/);
  });

  test("the object's own Secrets are exempt", () => {
    const server = trackingServer({ s3CredentialsSecret: "mlflow-credentials", url: "https://ml.example.com", ...PEM });
    assert.deepEqual(referenceProblems(server, indexExisting([found("Secret", "mlflow-credentials"), found("Secret", "mlflow", {}, "kubernetes.io/tls")])), []);
  });
});
