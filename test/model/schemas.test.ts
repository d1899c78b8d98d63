import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createPrivateKey, generateKeyPairSync, KeyObject } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { z } from "zod";
import { annotations, issueMessage, labels, quote, strictObject } from "../../model/common";
import { quantityValue } from "../../model/resources";
import { crdManifest } from "../../model/crd";
import { bothOrNeither, withRules } from "../../model/rules";
import { parseObject } from "../../model/objects";
import { isDatabaseServer, isLocalStore } from "../../model/trackingServer";
import { collectSpecs, formatError } from "../../model/specs";
import { loadSpecFiles } from "../../sources/files";
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
});

describe("quantities", () => {
  test("compare across suffixes", () => {
    assert.ok(quantityValue("1Gi") > quantityValue("512Mi"));
    assert.ok(quantityValue("500m") < quantityValue(1));
    assert.equal(quantityValue("1e3"), 1000);
    assert.equal(quantityValue("2k"), 2000);
  });

  test("E is exa, not an exponent", () => {
    assert.equal(quantityValue("1E"), 1e18);
    assert.deepEqual(esProblems({ resources: { requests: { cpu: "1E" }, limits: { cpu: "2" } } }), ['spec.resources.requests.cpu: "1E" is above the limit "2"']);
  });

  test("a fraction written as a number is refused, as the CRD's int-or-string refuses it; whole numbers and strings are fine", () => {
    assert.deepEqual(esProblems({ resources: { requests: { cpu: 0.5 } } }), ['spec.resources.requests.cpu: 0.5 is not a whole number: write a fraction as a string, like "0.5" or "500m"']);
    assert.deepEqual(esProblems({ resources: { requests: { cpu: 2, memory: "0.5Gi" }, limits: { cpu: "2.5" } } }), []);
  });

  test("requests equal to limits are fine", () => {
    assert.deepEqual(easyService({ size: 1, image: "nginx", resources: { requests: { cpu: "1" }, limits: { cpu: "1000m" } } }).spec.resources, {
      requests: { cpu: "1" },
      limits: { cpu: "1000m" },
    });
  });
});

/** validate's problem lines, `path: message`, for one object of `kind` with `spec`. */
function problemsOf(kind: "TrackingServer" | "EasyService", spec: Record<string, unknown>): string[] {
  const apiVersion = kind === "TrackingServer" ? "experiment.aiscope/v1alpha2" : "app.kubebuilder.io/v1";
  const parsed = parseObject({ apiVersion, kind, metadata: { name: "x" }, spec });
  return parsed.ok ? [] : parsed.problems.map((problem) => `${problem.path}: ${problem.message}`);
}
const tsProblems = (spec: Record<string, unknown>) => problemsOf("TrackingServer", spec);
function esProblems(spec: Record<string, unknown>) {
  return problemsOf("EasyService", { size: 1, image: "nginx", ...spec });
}

describe("what the API server refuses of the children, validate refuses", () => {
  test("a url whose host is an IP address or longer than 253 characters, or whose path has '//' or '%2F'", () => {
    const long = `https://${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(63)}.com/`;
    assert.deepEqual(tsProblems({ url: "https://10.0.0.7/team" }), ['spec.url: "https://10.0.0.7/team" has the IP address 10.0.0.7 as host: an Ingress needs a DNS name']);
    assert.deepEqual(tsProblems({ url: "http://123" }), ['spec.url: "http://123" has the IP address 0.0.0.123 as host: an Ingress needs a DNS name']);
    assert.deepEqual(tsProblems({ url: long }), [`spec.url: ${quote(long)} has a host of 259 characters: an Ingress takes at most 253`]);
    assert.deepEqual(tsProblems({ url: "https://mlflow.example.com//team" }), ["spec.url: \"https://mlflow.example.com//team\" has '//' in its path, which an Ingress path cannot have"]);
    assert.deepEqual(tsProblems({ url: "https://mlflow.example.com/a%2Fb" }), ["spec.url: \"https://mlflow.example.com/a%2Fb\" has '%2F' in its path, which an Ingress path cannot have"]);
    for (const url of ["https://mlflow.example.com/team//", "https://MLflow.Example.com/team", "https://mlflow.example.com:8443/a/b"]) assert.deepEqual(tsProblems({ url }), [], url);
    assert.deepEqual(tsProblems({ s3_endpoint_url: "http://minio.example.com//bucket" }), [], "an S3 endpoint is no Ingress");
  });

  test("a port name of digits only, with '--' or a '-' at an end, and a targetPort of digits in quotes", () => {
    const form = "is not a port name (up to 15 lowercase letters, digits and '-')";
    assert.deepEqual(esProblems({ ports: [{ name: "80", port: 80 }] }), [`spec.ports[0].name: "80" ${form}: it needs a letter`]);
    assert.deepEqual(esProblems({ ports: [{ name: "a--b", port: 80 }] }), [`spec.ports[0].name: "a--b" ${form}: it has '--'`]);
    assert.deepEqual(esProblems({ ports: [{ name: "web-", port: 80 }] }), [`spec.ports[0].name: "web-" ${form}: it starts or ends with '-'`]);
    assert.deepEqual(esProblems({ ports: [{ port: 80, targetPort: "8080" }] }), [`spec.ports[0].targetPort: "8080" ${form}: it needs a letter; a port number is written without quotes`]);
    assert.deepEqual(esProblems({ ports: [{ name: "h2", port: 80, targetPort: "web-1" }] }), []);
  });

  test("two ports whose container ports would have the same name", () => {
    const message = (i: number, field: string) => `spec.ports[${i}].${field}: "web" already names the container port of ports[0]: each port gets a container port of its own, named by its targetPort or else its name`;
    assert.deepEqual(esProblems({ ports: [{ name: "http", port: 80, targetPort: "web" }, { name: "alt", port: 8080, targetPort: "web" }] }), [message(1, "targetPort")]);
    assert.deepEqual(esProblems({ ports: [{ name: "web", port: 80 }, { name: "alt", port: 8080, targetPort: "web" }] }), [message(1, "targetPort")]);
    assert.deepEqual(esProblems({ ports: [{ name: "alt", port: 8080, targetPort: "web" }, { name: "web", port: 80 }] }), [message(1, "name")]);
    assert.deepEqual(esProblems({ ports: [{ name: "http", port: 80, targetPort: 8080 }, { name: "alt", port: 8081, targetPort: 8080 }] }), [], "numbers may repeat");
  });

  test("an appProtocol that is not a qualified name", () => {
    const prefix = `${"p".repeat(254)}/h2c`;
    assert.deepEqual(esProblems({ ports: [{ port: 80, appProtocol: "my proto" }] }), ['spec.ports[0].appProtocol: "my proto" is not a qualified name like "http" or "kubernetes.io/h2c"']);
    assert.deepEqual(esProblems({ ports: [{ port: 80, appProtocol: prefix }] }), [`spec.ports[0].appProtocol: ${quote(prefix)} has a prefix longer than 253 characters`]);
    assert.deepEqual(esProblems({ ports: [{ name: "a", port: 80, appProtocol: "http" }, { name: "b", port: 81, appProtocol: "kubernetes.io/h2c" }] }), []);
  });

  test("an env fieldPath the downward API does not give environment variables, or an apiVersion other than v1", () => {
    const env = (fieldRef: Record<string, string>) => esProblems({ envs: [{ name: "A", valueFrom: { fieldRef } }] });
    const fields = "metadata.name, metadata.namespace, metadata.uid, metadata.labels['<key>'], metadata.annotations['<key>'], spec.nodeName, spec.serviceAccountName, status.hostIP, status.hostIPs, status.podIP, status.podIPs";
    for (const fieldPath of ["spec.foo", "metadata.labels", "metadata.labels['-x']", "status.phase"]) {
      assert.deepEqual(env({ fieldPath }), [`spec.envs[0].valueFrom.fieldRef.fieldPath: ${quote(fieldPath)} is not a field an environment variable can read (${fields})`]);
    }
    assert.deepEqual(env({ fieldPath: "metadata.name", apiVersion: "v2" }), ['spec.envs[0].valueFrom.fieldRef.apiVersion: "v2" is not one of v1']);
    for (const fieldPath of ["status.podIPs", "metadata.labels['app']", "metadata.annotations['example.com/owner']"]) assert.deepEqual(env({ fieldPath, apiVersion: "v1" }), [], fieldPath);
  });

  test("a resourceFieldRef of a resource the API server does not know, or with a divisor it does not take", () => {
    const env = (resourceFieldRef: Record<string, unknown>) => esProblems({ envs: [{ name: "A", valueFrom: { resourceFieldRef } }] });
    assert.deepEqual(env({ resource: "limits.nvidia.com/gpu" }), [
      'spec.envs[0].valueFrom.resourceFieldRef.resource: "limits.nvidia.com/gpu" is not a resource an environment variable can read (limits.cpu, limits.memory, limits.ephemeral-storage, limits.hugepages-<size>, or the same under requests.)',
    ]);
    assert.deepEqual(env({ resource: "limits.cpu", divisor: "2" }), ['spec.envs[0].valueFrom.resourceFieldRef.divisor: "2" is not a divisor for limits.cpu (1m, 1)']);
    assert.deepEqual(env({ resource: "requests.memory", divisor: "1Mi" }), []);
    assert.deepEqual(env({ resource: "limits.hugepages-2Mi", divisor: 1 }), []);
  });

  test("a Secret or ConfigMap key that is '.', '..' or starts with '..'", () => {
    const env = (key: string) => esProblems({ envs: [{ name: "A", valueFrom: { secretKeyRef: { name: "creds", key } } }] });
    for (const key of [".", "..", "..password"]) {
      assert.deepEqual(env(key), [`spec.envs[0].valueFrom.secretKeyRef.key: ${quote(key)} is not a key name (letters, digits, '-', '_' and '.', not starting with '..')`]);
    }
    assert.deepEqual(env(".hidden"), []);
  });

  test("an extended resource requested without an equal limit, or in fractions", () => {
    const gpu = (resources: Record<string, unknown>) => esProblems({ resources });
    assert.deepEqual(gpu({ requests: { "nvidia.com/gpu": "1" } }), ['spec.resources.requests["nvidia.com/gpu"]: "1" has no limit beside it: a request of nvidia.com/gpu must equal its limit']);
    assert.deepEqual(gpu({ requests: { "nvidia.com/gpu": "1" }, limits: { "nvidia.com/gpu": "2" } }), ['spec.resources.requests["nvidia.com/gpu"]: "1" is not the limit "2": a request of nvidia.com/gpu must equal its limit']);
    assert.deepEqual(gpu({ limits: { "example.com/fpga": "500m" } }), ['spec.resources.limits["example.com/fpga"]: "500m" is not a whole number: example.com/fpga is counted in whole units']);
    assert.deepEqual(gpu({ requests: { "nvidia.com/gpu": 2 }, limits: { "nvidia.com/gpu": "2000m" } }), []);
    assert.deepEqual(gpu({ limits: { "nvidia.com/gpu": "1" } }), [], "the request defaults to the limit");
  });

  test("hugepages without cpu or memory, in parts of a page, or of no page size", () => {
    const pages = (resources: Record<string, unknown>) => esProblems({ resources });
    assert.deepEqual(pages({ limits: { "hugepages-2Mi": "4Mi" } }), ['spec.resources.limits["hugepages-2Mi"]: needs a cpu or memory request or limit beside it']);
    assert.deepEqual(pages({ limits: { "hugepages-2Mi": "3Mi", memory: "1Gi" } }), ['spec.resources.limits["hugepages-2Mi"]: "3Mi" is not a whole number of 2Mi pages']);
    assert.deepEqual(pages({ limits: { "hugepages-abc": "2Mi", memory: "1Gi" } }), ['spec.resources.limits["hugepages-abc"]: "hugepages-abc" is not a resource name: abc is not a page size like 2Mi or 1Gi']);
    assert.deepEqual(pages({ requests: { "hugepages-2Mi": "4Mi" }, limits: { "hugepages-2Mi": "4Mi", memory: "1Gi" } }), []);
  });

  test("resource names that are not qualified names or take the quota's requests. prefix", () => {
    assert.deepEqual(esProblems({ resources: { limits: { "example.com/gpu-": "1" } } }), [
      'spec.resources.limits["example.com/gpu-"]: "example.com/gpu-" is not a resource name (cpu, memory, ephemeral-storage, hugepages-<size> or domain/name)',
    ]);
    assert.deepEqual(esProblems({ resources: { limits: { "requests.example.com/gpu": "1" } } }), [
      'spec.resources.limits["requests.example.com/gpu"]: "requests.example.com/gpu" is not a resource name: an extended resource\'s domain cannot start with "requests."',
    ]);
    assert.deepEqual(esProblems({ resources: { limits: { "kubernetes.io/batteries": "1" } } }), []);
  });

  test("label and annotation keys that are not qualified names, and label values the API server refuses", () => {
    const parse = (schema: typeof labels | typeof annotations, value: Record<string, string>) =>
      schema.safeParse(value, { error: issueMessage, reportInput: true }).error?.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`) ?? [];
    assert.deepEqual(parse(labels, { "a/b/c": "v", app: "-bad", team: "" }), [
      "a/b/c: \"a/b/c\" is not a label key ([prefix/]name of letters, digits, '-', '_' and '.')",
      "app: \"-bad\" is not a label value (up to 63 letters, digits, '-', '_' and '.', a letter or digit at each end)",
    ]);
    assert.deepEqual(parse(annotations, { "Example.com/Owner": "x", "a b": "y" }), ["a b: \"a b\" is not an annotation key ([prefix/]name of letters, digits, '-', '_' and '.')"]);
    assert.deepEqual(parse(annotations, { big: "x".repeat(256 * 1024) }), [": are longer than 256 KiB in all"]);
  });
});

/** A self-signed certificate for `key`, made by openssl, in PEM. */
function certificateFor(key: KeyObject, subject: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "crdstack-cert-"));
  try {
    fs.writeFileSync(path.join(dir, "key.pem"), key.export({ type: "pkcs8", format: "pem" }));
    return execFileSync("openssl", ["req", "-x509", "-key", path.join(dir, "key.pem"), "-subj", subject, "-days", "1"], { encoding: "utf8" });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("TLS certificate and key", () => {
  const ec = () => generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const garbage = (label: string) => `-----BEGIN ${label}-----\nTm90IGEgY2VydGlmaWNhdGU=\n-----END ${label}-----\n`;

  test("EC and RSA keys in PKCS#8 or their own form are fine, and so is a chain after the certificate", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const issuer = certificateFor(ec(), "/CN=Team CA");
    assert.deepEqual(tsProblems(PEM), []);
    assert.deepEqual(tsProblems({ cert: PEM.cert, key: createPrivateKey(PEM.key).export({ type: "sec1", format: "pem" }) }), []);
    assert.deepEqual(tsProblems({ cert: certificateFor(rsa, "/CN=rsa.example.com"), key: rsa.export({ type: "pkcs1", format: "pem" }) }), []);
    assert.deepEqual(tsProblems({ cert: `${PEM.cert}${issuer}`, key: PEM.key }), []);
  });

  test("a certificate or key that does not parse is a problem of its own field", () => {
    assert.deepEqual(tsProblems({ cert: `${PEM.cert}${garbage("CERTIFICATE")}`, key: PEM.key }), ["spec.cert: certificate 2 of 2 is not a valid X.509 certificate"]);
    assert.deepEqual(tsProblems({ cert: PEM.cert, key: garbage("PRIVATE KEY") }), ["spec.key: is not a valid private key: its PEM body does not parse"]);
  });

  test("a key that is not the first certificate's is a problem on spec.key, and its text is never shown", () => {
    const other = ec().export({ type: "pkcs8", format: "pem" }).toString();
    const issuer = certificateFor(ec(), "/CN=Team CA");
    const mismatch = (subject: string) => `spec.key: does not match the certificate (the first in \`cert\`, subject ${subject}): set the key it was issued for`;
    const problems = tsProblems({ cert: PEM.cert, key: other });
    assert.deepEqual(problems, [mismatch("CN=mlflow.example.com")]);
    assert.ok(!other.split("\n").slice(1, -2).some((line) => problems.join().includes(line)));
    assert.deepEqual(tsProblems({ cert: `${issuer}${PEM.cert}`, key: PEM.key }), [mismatch("CN=Team CA")]);
  });
});

describe("rules between fields", () => {
  test("one rule value makes the zod check and the CRD's CEL rule, reading \"\" as unset where told", () => {
    const schema = withRules(strictObject({ cert: z.string().optional(), key: z.string().optional() }), bothOrNeither("cert", "key"), { unsetWhenEmpty: new Set(["cert", "key"]) });
    const issues = schema.safeParse({ cert: "x" }).error?.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    assert.deepEqual(issues, ["key: Only one of `cert` or `key` is set: set both or neither"]);
    assert.equal(schema.safeParse({ cert: "x", key: "" }).success, false);
    assert.equal(schema.safeParse({ cert: "", key: "" }).success, true);
    assert.deepEqual(z.toJSONSchema(schema, { target: "openapi-3.0" })["x-kubernetes-validations"], [
      { rule: '(!(has(self.cert) && self.cert != "") || (has(self.key) && self.key != ""))', message: "Only one of `cert` or `key` is set: set both or neither", fieldPath: ".key", reason: "FieldValueRequired" },
      { rule: '(!(has(self.key) && self.key != "") || (has(self.cert) && self.cert != ""))', message: "Only one of `cert` or `key` is set: set both or neither", fieldPath: ".cert", reason: "FieldValueRequired" },
    ]);
  });

  test("every CEL rule of the CRDs has a fixed message that names no value", () => {
    const rules: { rule: string; message: string }[] = [];
    const collect = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(collect);
      if (typeof node !== "object" || node === null) return;
      rules.push(...(((node as Record<string, unknown>)["x-kubernetes-validations"] as typeof rules | undefined) ?? []));
      Object.values(node).forEach(collect);
    };
    collect(crdManifest("TrackingServer"));
    collect(crdManifest("EasyService"));
    assert.ok(rules.length >= 20, `${rules.length} rules`);
    for (const { rule, message } of rules) assert.ok(message.length > 0 && !message.includes("${") && !/self\./.test(message), `${rule}: ${message}`);
  });

  test("a port's container-port name clash is reported with the earlier port it repeats, past a clash of names the name rule reports", () => {
    const clash = (i: number, field: string, first: number) => `spec.ports[${i}].${field}: "web" already names the container port of ports[${first}]: each port gets a container port of its own, named by its targetPort or else its name`;
    assert.deepEqual(esProblems({ ports: [{ name: "web", port: 80 }, { name: "x", port: 81, targetPort: "web" }, { name: "web", port: 82 }] }), [
      'spec.ports[2].name: "web" is used by another port',
      clash(1, "targetPort", 0),
      clash(2, "name", 1),
    ]);
  });

  test("the bounds that keep the CRD's rules within the API server's cost budget", () => {
    const envs = Array.from({ length: 1001 }, (_, i) => ({ name: `V${i}`, value: "x" }));
    assert.deepEqual(esProblems({ envs }), ["spec.envs: has 1001 items: at most 1000"]);
    const ports = Array.from({ length: 101 }, (_, i) => ({ name: `p${i}`, port: 1000 + i }));
    assert.deepEqual(esProblems({ ports }), ["spec.ports: has 101 items: at most 100"]);
    const limits = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`example.com/r${i}`, "1"]));
    assert.deepEqual(esProblems({ resources: { limits, requests: limits } }), ["spec.resources.limits: has 65 entries: at most 64", "spec.resources.requests: has 65 entries: at most 64"]);
    assert.deepEqual(tsProblems({ cert: PEM.cert, key: `${PEM.key}${" ".repeat(65536)}` }), ["spec.key: is longer than 65536 characters"]);
  });
});
