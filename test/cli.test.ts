import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { run } from "../cli/main";
import { BAD_CORPUS, documentsOf, EXAMPLES, ROOT } from "./helpers";

describe("validate", () => {
  test("exit 0 when every spec is valid", () => {
    const result = run(["validate", EXAMPLES]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
  });

  test("exit 1 and one line per problem: <file>: <Kind> <namespace>/<name>: <field path>: <message>", () => {
    const file = path.join(BAD_CORPUS, "es-node-port-low.yaml");
    const result = run(["validate", EXAMPLES, file]);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, `${file}: EasyService default/es-a: spec.ports[0].nodePort: 20 is outside 30000-32767\n`);
  });

  test("every problem of an object is listed", () => {
    const result = run(["validate", path.join(BAD_CORPUS, "es-ports-unnamed.yaml")]);
    assert.equal(result.stderr.trim().split("\n").length, 2);
  });

  test("a missing path is a usage error, not a validation result", () => {
    const result = run(["validate", "no/such/folder"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /no\/such\/folder: no such file or folder/);
    assert.equal(run(["validate"]).code, 2);
  });
});

describe("render", () => {
  test("prints multi-document YAML that parses back, secrets masked", () => {
    const result = run(["render", EXAMPLES]);
    assert.equal(result.code, 0, result.stderr);
    const documents = documentsOf(result.stdout);
    const secret = documents.find((doc) => doc.kind === "Secret" && doc.metadata.name === "trackingserver-credentials");
    assert.deepEqual(Object.values(secret.stringData), ["(secret)", "(secret)", "(secret)"]);
    const custom = documents.find((doc) => doc.kind === "TrackingServer" && doc.metadata.name === "trackingserver");
    assert.equal(custom.spec.aws_secret_key, "(secret)");
    assert.equal(custom.spec.key, "(secret)");
    assert.ok(!result.stdout.includes("mlflow1234"));
  });

  test("strings that YAML 1.1 readers (kubectl) would take for booleans or numbers stay quoted", () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), "crdstack-quote-"));
    const envs = ["yes", "on", "0755", "1e3", "null", "2026-01-01"].map((value, i) => ({ name: `V${i}`, value }));
    fs.writeFileSync(path.join(folder, "es.yaml"), JSON.stringify({ apiVersion: "app.kubebuilder.io/v1", kind: "EasyService", metadata: { name: "q" }, spec: { size: 1, image: "nginx", envs } }));
    const result = run(["render", folder]);
    assert.equal(result.code, 0, result.stderr);
    for (const { value } of envs) assert.match(result.stdout, new RegExp(`value: '${value}'`), value);
  });

  test("--show-secrets prints the values", () => {
    assert.ok(run(["render", "--show-secrets", EXAMPLES]).stdout.includes("mlflow1234"));
  });

  test("invalid specs: exit 1 with validate's lines and nothing on stdout", () => {
    const file = path.join(BAD_CORPUS, "ts-size-negative.yaml");
    const result = run(["render", EXAMPLES, file]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.equal(result.stderr, `${file}: TrackingServer default/ts-a: spec.size: -1 is outside 0-100\n`);
  });

  test("--config reads crdstack:* settings from a stack config file", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "crdstack-cli-")), "Pulumi.test.yaml");
    fs.writeFileSync(file, "config:\n  crdstack:installCrds: false\n  crdstack:ingressClassName: nginx\n  aws:region: eu-west-1\n");
    const documents = documentsOf(run(["render", "--config", file, EXAMPLES]).stdout);
    assert.ok(!documents.some((doc) => doc.kind === "CustomResourceDefinition"));
    assert.equal(documents.find((doc) => doc.kind === "Ingress").spec.ingressClassName, "nginx");
    fs.writeFileSync(file, "config:\n  crdstack:ingresClassName: nginx\n");
    const typo = run(["render", "--config", file, EXAMPLES]);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /crdstack:ingresClassName: is not a known key/);
  });
});

describe("crds", () => {
  test("the checked-in crds/crds.yaml is what `npm run crds` prints (regenerate: npm run --silent crds > crds/crds.yaml)", () => {
    assert.equal(run(["crds"]).stdout, fs.readFileSync(path.join(ROOT, "crds", "crds.yaml"), "utf8"));
  });

  test("the CRDs are structural: every schema node has a type, no additionalProperties beside properties", () => {
    const check = (node: any, where: string): void => {
      if (node["x-kubernetes-int-or-string"]) return;
      assert.ok(typeof node.type === "string", `${where} has no type`);
      assert.ok(!(node.properties && node.additionalProperties !== undefined), `${where} has both properties and additionalProperties`);
      for (const key of ["$ref", "oneOf", "anyOf", "allOf", "not"]) assert.equal(node[key], undefined, `${where} has ${key}`);
      for (const [name, child] of Object.entries(node.properties ?? {})) check(child, `${where}.${name}`);
      if (node.items) check(node.items, `${where}[]`);
      if (typeof node.additionalProperties === "object") check(node.additionalProperties, `${where}{}`);
    };
    for (const crd of documentsOf(run(["crds"]).stdout)) {
      check(crd.spec.versions[0].schema.openAPIV3Schema, crd.metadata.name);
      assert.deepEqual(crd.spec.versions[0].subresources, { status: {} });
      assert.ok(crd.spec.names.shortNames.length > 0);
    }
  });

  test("TrackingServer columns include the original S3_ENDPOINT_URL and ARTIFACT_ROOT, plus Ready and Age", () => {
    const crd = documentsOf(run(["crds"]).stdout)[0];
    const columns = crd.spec.versions[0].additionalPrinterColumns.map((c: any) => c.name);
    for (const name of ["S3_ENDPOINT_URL", "ARTIFACT_ROOT", "Ready", "Age"]) assert.ok(columns.includes(name), name);
  });
});
