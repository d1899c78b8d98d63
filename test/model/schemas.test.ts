import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { quantityValue } from "../../model/common";
import { parseObject } from "../../model/objects";
import { isDatabaseServer, isLocalStore } from "../../model/trackingServer";
import { collectSpecs, formatError, loadSpecFiles } from "../../model/specs";
import { badCases, easyService, EXAMPLES, PEM, trackingServer } from "../helpers";

describe("examples", () => {
  test("every example is valid", () => {
    const specs = loadSpecFiles([EXAMPLES]);
    assert.deepEqual(specs.errors.map(formatError), []);
    assert.ok(specs.objects.length >= 4);
  });

  test("the original EasyService sample parses unchanged", () => {
    const sample = loadSpecFiles([EXAMPLES]).objects.find((o) => o.metadata.name === "easyservice-sample");
    assert.equal(sample?.kind, "EasyService");
    assert.deepEqual(sample?.spec, { size: 2, image: "nginx:1.7.9", ports: [{ port: 80, targetPort: 80, nodePort: 31002, protocol: "TCP" }] });
  });
});

describe("defaults", () => {
  test("a TrackingServer with an empty spec gets one replica", () => {
    assert.deepEqual(trackingServer({}).spec, { size: 1 });
  });

  test("a port without protocol is TCP, a namespace-less object is in default", () => {
    const parsed = parseObject({ apiVersion: "app.kubebuilder.io/v1", kind: "EasyService", metadata: { name: "web" }, spec: { size: 1, image: "nginx", ports: [{ port: 80 }] } });
    assert.ok(parsed.ok);
    assert.equal(parsed.object.metadata.namespace, "default");
    assert.equal(parsed.object.kind === "EasyService" && parsed.object.spec.ports?.[0].protocol, "TCP");
  });

  test("which URIs are a database server, and which artifact roots are a folder of the server", () => {
    for (const uri of ["postgresql://u@db/mlflow", "postgresql+psycopg2://u@db/m", "mysql://db/m", "MySQL+pymysql://db/m", "mssql+pyodbc://db/m"]) assert.ok(isDatabaseServer(uri), uri);
    for (const uri of [undefined, "sqlite:////mlflow/mlflow.db", "sqlite+pysqlite:///x.db", "file:///mlflow/x", "./mlruns", "C:/mlruns", "databricks", "s3://bucket/x"]) assert.ok(!isDatabaseServer(uri), String(uri));
    for (const uri of [undefined, "/mlflow/artifacts", "./artifacts", "file:///data/a", "C:/artifacts"]) assert.ok(isLocalStore(uri), String(uri));
    for (const uri of ["s3://bucket/x", "gs://b/x", "wasbs://c@a.blob.core.windows.net/x", "mlflow-artifacts:/x"]) assert.ok(!isLocalStore(uri), uri);
  });

  test("several replicas are fine with a database server and a remote artifact store", () => {
    assert.equal(trackingServer({ size: 3, backend_uri: "postgresql+psycopg2://u:pw@db/mlflow", artifact_root: "s3://bucket/runs" }).spec.size, 3);
  });

  test("custom values are kept", () => {
    const spec = { size: 3, backend_uri: "postgresql://mlflow@db/mlflow", artifact_root: "s3://bucket/runs", image: "ghcr.io/mlflow/mlflow:v2.22.0", url: "https://mlflow.example.com", volumeSize: "5Gi", storageClassName: "fast", ...PEM };
    assert.deepEqual(trackingServer(spec).spec, spec);
  });
});

describe("bad specs", () => {
  for (const bad of badCases()) {
    const name = bad.file.split("/").pop();
    test(`${name}: ${bad.error}`, () => {
      const specs = loadSpecFiles([bad.file]);
      assert.equal(specs.objects.length, 0);
      const lines = specs.errors.map(formatError);
      assert.ok(lines.some((line) => line.startsWith(`${bad.file}: `) && line.endsWith(`: ${bad.error}`)), `expected "${bad.error}" in:\n${lines.join("\n")}`);
    });
  }

  test("the corpus covers both kinds with at least 40 cases", () => {
    const cases = badCases();
    assert.ok(cases.length >= 40, `${cases.length} cases`);
    assert.ok(cases.filter((c) => c.file.includes("/ts-")).length >= 15);
    assert.ok(cases.filter((c) => c.file.includes("/es-")).length >= 15);
  });

  test("messages never quote secret values", () => {
    const parsed = parseObject({
      apiVersion: "experiment.aiscope/v1alpha2",
      kind: "TrackingServer",
      metadata: { name: "mlflow" },
      spec: { aws_access_key: "AKIA SECRETID", aws_secret_key: "s3cr3t value", backend_uri: "mysql://root:hunter2 x@db/mlflow", cert: "x", key: "private key text" },
    });
    assert.ok(!parsed.ok);
    const text = JSON.stringify(parsed.problems);
    for (const secret of ["AKIA", "s3cr3t", "hunter2", "private key text"]) assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
    assert.equal(parsed.problems.length, 5);
  });

  test("a secret field of the wrong type reads (secret), never its value", () => {
    const parsed = parseObject({
      apiVersion: "experiment.aiscope/v1alpha2",
      kind: "TrackingServer",
      metadata: { name: "mlflow" },
      spec: { aws_access_key: 123456789012, aws_secret_key: 987654321012, backend_uri: 4242424242 },
    });
    assert.ok(!parsed.ok);
    assert.deepEqual(parsed.problems, [
      { path: "spec.aws_access_key", message: "(secret) is not a string" },
      { path: "spec.aws_secret_key", message: "(secret) is not a string" },
      { path: "spec.backend_uri", message: "(secret) is not a string" },
    ]);
  });

  test("a URL with a user name or password is refused without showing them", () => {
    for (const field of ["url", "s3_endpoint_url"]) {
      const parsed = parseObject({ apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: { name: "mlflow" }, spec: { [field]: "https://admin:hunter2@mlflow.example.com/team" } });
      assert.ok(!parsed.ok);
      assert.deepEqual(parsed.problems, [{ path: `spec.${field}`, message: '"(secret)@mlflow.example.com/team" has a user name or password: keep credentials out of URLs' }]);
    }
    for (const url of [" https://admin:hunter2@mlflow.example.com/", "https://admin:hun/ter2@mlflow.example.com/", "ftp://admin:hunter2@x"]) {
      const parsed = parseObject({ apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: { name: "mlflow" }, spec: { url } });
      assert.ok(!parsed.ok);
      assert.ok(!JSON.stringify(parsed.problems).includes("hun"), JSON.stringify(parsed.problems));
    }
  });
});

describe("collecting objects", () => {
  const ts = (name: string) => ({ apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: { name, namespace: "a" }, spec: {} });
  const es = (name: string, spec: unknown = { size: 1, image: "nginx" }) => ({ apiVersion: "app.kubebuilder.io/v1", kind: "EasyService", metadata: { name, namespace: "a" }, spec });

  test("one invalid object does not block the others", () => {
    const specs = collectSpecs([{ raw: ts("one") }, { raw: es("two", { size: -1, image: "nginx" }) }, { raw: es("three") }]);
    assert.deepEqual(specs.objects.map((o) => o.metadata.name), ["one", "three"]);
    assert.deepEqual(specs.errors.map(formatError), ["EasyService a/two: spec.size: -1 is outside 0-1000"]);
  });

  test("the later of two objects with the same namespace and name is rejected", () => {
    const specs = collectSpecs([{ raw: ts("same"), file: "a.yaml" }, { raw: es("same"), file: "b.yaml" }]);
    assert.deepEqual(specs.objects.map((o) => o.kind), ["TrackingServer"]);
    assert.deepEqual(specs.errors.map(formatError), [
      'b.yaml: EasyService a/same: metadata.name: "same" is already used by TrackingServer a/same, whose children have the same names',
    ]);
  });

  test("the later of two objects whose children would share a name is rejected, in either order", () => {
    const withTls = { ...ts("a-credentials"), spec: PEM };
    const first = collectSpecs([{ raw: ts("a") }, { raw: withTls }]);
    assert.deepEqual(first.objects.map((o) => o.metadata.name), ["a"]);
    assert.deepEqual(first.errors.map(formatError), ['TrackingServer a/a-credentials: metadata.name: "a-credentials" would make the Secret "a-credentials", which TrackingServer a/a already has']);
    const second = collectSpecs([{ raw: withTls }, { raw: ts("a") }]);
    assert.deepEqual(second.objects.map((o) => o.metadata.name), ["a-credentials"]);
    assert.deepEqual(second.errors.map(formatError), ['TrackingServer a/a: metadata.name: "a" would make the Secret "a-credentials", which TrackingServer a/a-credentials already has']);
    assert.deepEqual(collectSpecs([{ raw: ts("a") }, { raw: ts("a-credentials") }]).errors, [], "without a certificate a-credentials has no Secret of that name");
  });

  test("the later of two objects asking for the same NodePort is rejected; NodePorts are cluster-wide", () => {
    const withPort = (name: string, namespace: string) => ({ ...es(name, { size: 1, image: "nginx", ports: [{ port: 80, nodePort: 31002 }] }), metadata: { name, namespace } });
    const specs = collectSpecs([{ raw: withPort("first", "a") }, { raw: withPort("second", "b") }]);
    assert.deepEqual(specs.objects.map((o) => o.metadata.name), ["first"]);
    assert.deepEqual(specs.errors.map(formatError), ["EasyService b/second: spec.ports[0].nodePort: 31002 is already used by EasyService a/first"]);
  });

  test("a TrackingServer on a host whose /api another one serves is rejected, whatever the paths and namespaces", () => {
    const at = (name: string, namespace: string, url: string) => ({ ...ts(name), metadata: { name, namespace }, spec: { url } });
    const specs = collectSpecs([
      { raw: at("one", "a", "https://ml.example.com/one") },
      { raw: at("two", "b", "https://ml.example.com/two") },
      { raw: at("root", "c", "http://ml.example.com") },
      { raw: at("own", "c", "https://own.example.com/x") },
    ]);
    assert.deepEqual(specs.objects.map((o) => o.metadata.name), ["one", "own"]);
    const message = () => `spec.url: the host ml.example.com already serves the REST API (/api) of TrackingServer a/one, and MLflow before 3.12 cannot serve its API under a path: give each server a host of its own`;
    assert.deepEqual(specs.errors.map(formatError), [`TrackingServer b/two: ${message()}`, `TrackingServer c/root: ${message()}`]);
  });

  test("a YAML syntax error names the file and document, and costs only that document", () => {
    const file = path.join(os.tmpdir(), `crdstack-bad-${process.pid}.yaml`);
    const good = (name: string) => `apiVersion: app.kubebuilder.io/v1\nkind: EasyService\nmetadata:\n  name: ${name}\nspec:\n  size: 1\n  image: nginx\n`;
    fs.writeFileSync(file, `${good("one")}---\nkind: [unclosed\n---\n${good("three")}`);
    try {
      const specs = loadSpecFiles([file]);
      assert.deepEqual(specs.objects.map((o) => o.metadata.name), ["one", "three"]);
      assert.equal(specs.errors.length, 1);
      assert.match(formatError(specs.errors[0]), new RegExp(`^${file}: document -/2: \\(yaml\\): `));
    } finally {
      fs.rmSync(file);
    }
  });
});

describe("quantities", () => {
  test("compare across suffixes", () => {
    assert.ok(quantityValue("1Gi") > quantityValue("512Mi"));
    assert.ok(quantityValue("500m") < quantityValue(1));
    assert.equal(quantityValue("1e3"), 1000);
    assert.equal(quantityValue("2k"), 2000);
  });

  test("requests equal to limits are fine", () => {
    assert.deepEqual(easyService({ size: 1, image: "nginx", resources: { requests: { cpu: "1" }, limits: { cpu: "1000m" } } }).spec.resources, {
      requests: { cpu: "1" },
      limits: { cpu: "1000m" },
    });
  });
});
