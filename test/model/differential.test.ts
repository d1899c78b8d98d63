// `validate` against the API server. Specs come from fast-check arbitraries that follow the schemas'
// fields, edge values included (empty strings, names of digits, IP hosts, `//` paths, fractions as numbers,
// GPU requests, odd fieldPaths, certificate chains and mismatched keys), so that valid and invalid ones come
// out. Each is parsed by validate and sent to a real API server as dry runs: the custom resource against the
// generated CRD, and, when validate accepts it, every child the builders make. A spec validate accepts and
// the server refuses fails the test.
//
// CRDSTACK_DIFF_SEED replays a run (the TLS fixtures are new keys each run, of the same kinds);
// CRDSTACK_DIFF_RUNS sets the number of specs (default 500).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, KeyObject } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import fc from "fast-check";
import { customResourceManifest } from "../../builders/meta";
import { childrenOf } from "../../builders/plan";
import { crdManifests } from "../../model/crd";
import { parseObject } from "../../model/objects";
import { ApiError, Cluster, installCrds, KubeObject, pathOf, useCluster } from "../cluster/cluster";

const SEED = Number(process.env.CRDSTACK_DIFF_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.CRDSTACK_DIFF_RUNS ?? 500);
const OPTIONS = { defaultImage: "ghcr.io/mlflow/mlflow:v3.1.1" };
/** Dry runs under way at once. */
const PARALLEL = 6;

// ---- TLS fixtures: keys from node:crypto, certificates signed by openssl, made once per run ----

type Pem = { cert: string; key: string };
const fixtureNames = new Map<string, string>();

type Fixtures = Record<"valid" | "invalid", Record<string, Partial<Pem>>>;

function tlsFixtures(): Fixtures {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "crdstack-tls-"));
  const write = (name: string, text: string) => (fs.writeFileSync(path.join(dir, name), text), path.join(dir, name));
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  const pkcs8 = (key: KeyObject) => key.export({ type: "pkcs8", format: "pem" }).toString();
  const selfSigned = (key: KeyObject, name: string, subject: string) => {
    openssl("req", "-x509", "-key", write(`${name}.key`, pkcs8(key)), "-out", `${name}.crt`, "-days", "3650", "-subj", subject);
    return fs.readFileSync(path.join(dir, `${name}.crt`), "utf8");
  };
  try {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const ca = generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey;
    const leaf = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    const ecCert = selfSigned(ec, "ec", "/CN=mlflow.example.com");
    const rsaCert = selfSigned(rsa, "rsa", "/CN=mlflow.example.com");
    const caCert = selfSigned(ca, "ca", "/CN=Team CA");
    openssl("req", "-new", "-key", write("leaf.key", pkcs8(leaf)), "-subj", "/CN=ml.team.example.com", "-out", "leaf.csr");
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", "2", "-days", "3650", "-out", "leaf.crt");
    const leafCert = fs.readFileSync(path.join(dir, "leaf.crt"), "utf8");
    const encrypted = ec.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "secret" }).toString();
    const garbage = (label: string) => `-----BEGIN ${label}-----\nTm90IGEgY2VydGlmaWNhdGUgb3IgYSBrZXkgYXQgYWxs\n-----END ${label}-----\n`;
    const valid: Record<string, Pem> = {
      "EC, PKCS#8 key": { cert: ecCert, key: pkcs8(ec) },
      "EC, SEC1 key": { cert: ecCert, key: ec.export({ type: "sec1", format: "pem" }).toString() },
      "RSA, PKCS#1 key": { cert: rsaCert, key: rsa.export({ type: "pkcs1", format: "pem" }).toString() },
      "RSA, PKCS#8 key": { cert: rsaCert, key: pkcs8(rsa) },
      "chain, leaf first": { cert: `${leafCert}${caCert}`, key: pkcs8(leaf) },
      "empty strings": { cert: "", key: "" },
    };
    const invalid: Record<string, Partial<Pem>> = {
      "chain, issuer first": { cert: `${caCert}${leafCert}`, key: pkcs8(leaf) },
      "RSA certificate, EC key": { cert: rsaCert, key: pkcs8(ec) },
      "certificate that does not parse": { cert: garbage("CERTIFICATE"), key: pkcs8(ec) },
      "key that does not parse": { cert: ecCert, key: garbage("PRIVATE KEY") },
      "encrypted key": { cert: ecCert, key: encrypted },
      "certificate and key swapped": { cert: pkcs8(ec), key: ecCert },
      "certificate only": { cert: ecCert },
      "key only": { key: pkcs8(ec) },
    };
    for (const [name, pair] of [...Object.entries(valid), ...Object.entries(invalid)]) {
      for (const [field, text] of Object.entries(pair)) if (text !== "") fixtureNames.set(text, `<${name}: ${field}>`);
    }
    return { valid, invalid };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---- Arbitraries, field by field: mostly valid values, now and then an edge one ----

/** Mostly `valid`, one time in `1 + odds` an `edge` value: about half the specs come out valid. */
const edgy = <T>(valid: fc.Arbitrary<T>, edge: fc.Arbitrary<T>, odds = 16) => fc.oneof({ arbitrary: valid, weight: odds }, { arbitrary: edge, weight: 1 });
const some = <T>(...values: T[]) => fc.constantFrom(...values);
const dictionary = <T>(keys: fc.Arbitrary<string>, values: fc.Arbitrary<T>, maxKeys: number) => fc.dictionary(keys, values, { maxKeys, noNullPrototype: true });

const labelKey = edgy(some("app", "team", "example.com/owner", "app.kubernetes.io/part-of"), some("-bad", "a/b/c", "Example.com/x", "x".repeat(64), "", "/x", "a b"));
const labelValue = edgy(some("v", "mlflow", "a.b_c-d", ""), some("-bad", "x".repeat(64), "a b"));
const metadata = (namespace: string) => fc.record({
  name: edgy(fc.oneof(some("mlflow", "web", "a", "x".repeat(63)), fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/)), some("A", "1abc", "x".repeat(64), "a_b", "trackingserver", "")),
  namespace: fc.constant(namespace),
  labels: dictionary(labelKey, labelValue, 2),
  annotations: dictionary(edgy(some("note", "example.com/owner", "Example.com/Owner"), some("-bad", "a b", "")), fc.string({ maxLength: 8 }), 2),
}, { requiredKeys: ["name", "namespace"], noNullPrototype: true });

const quantity = edgy(
  fc.oneof(some("100m", "250m", "500m", "1", "2", "0.5", "1Gi", "512Mi", "2Mi", "4Mi", "1e3", "10k", "1.5", "0", ".5", "+1", "1E"), fc.nat(64)),
  some<string | number>(0.5, 1.5, -1, "abc", "", "1.2.3", "5 Gi", "1e400", "1e-3", "2.5Mi", 2 ** 60, "1e1000"),
  10,
);
const resourceName = edgy(
  fc.oneof({ arbitrary: some("cpu", "memory", "ephemeral-storage"), weight: 6 }, { arbitrary: some("nvidia.com/gpu", "example.com/foo", "hugepages-2Mi", "hugepages-1Gi", "kubernetes.io/foo"), weight: 1 }),
  some("gpu", "example.com/foo-", "requests.example.com/x", "hugepages-abc", "hugepages-0", "Example.com/x", "a/b/c", "", `${"d".repeat(250)}.com/x`),
);
const resourceList = dictionary(resourceName, quantity, 3);
/** Requests and limits apart, or the same list as both (how extended resources are asked for). */
const resources = fc.oneof(fc.record({ requests: resourceList, limits: resourceList }, { requiredKeys: [], noNullPrototype: true }), resourceList.map((list) => ({ requests: list, limits: list })));

const portName = edgy(
  fc.oneof(some("http", "web", "metrics", "grpc-api", "h2c", "x1"), fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/)),
  some("80", "a--b", "-a", "a-", "averyveryverylongname", "", "HTTP", "1-2", undefined),
);
const servicePort = fc.record({
  name: portName,
  protocol: edgy(some("TCP", "UDP", "SCTP"), some("HTTP", "tcp")),
  // A few numbers and names often, so that ports share their container port now and then.
  port: edgy(fc.oneof(some(80, 443, 8080), fc.integer({ min: 1, max: 65535 })), some(0, 65536)),
  targetPort: edgy(fc.oneof(some(80, 8080), fc.integer({ min: 1, max: 65535 }), some("http", "web", "metrics")), some<string | number>("8080", 0, 70000, "", "a--b", "HTTP")),
  nodePort: edgy(fc.integer({ min: 30000, max: 32767 }), some(20, 32768)),
  appProtocol: edgy(some("http", "https", "kubernetes.io/h2c", "kubernetes.io/ws", "example.com/custom"), some("my proto", "", "-x", "a/b/c", `example.com/${"x".repeat(64)}`, `${"p".repeat(254)}/a`)),
}, { requiredKeys: ["name", "port"], noNullPrototype: true });

const fieldPaths = ["metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"];
const fieldRef = fc.record({
  fieldPath: edgy(
    fc.oneof(some(...fieldPaths), fc.tuple(some("labels", "annotations"), labelKey).map(([map, key]) => `metadata.${map}['${key}']`)),
    some("spec.foo", "metadata.labels", "status.phase", "spec.host", "metadata.labels['']", "spec.nodeName['x']", ""),
  ),
  apiVersion: edgy(some("v1"), some("v2", "")),
}, { requiredKeys: ["fieldPath"], noNullPrototype: true });
const resourceFieldRef = fc.record({
  resource: edgy(some("limits.cpu", "limits.memory", "limits.ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage", "limits.hugepages-2Mi"), some("limits.gpu", "cpu", "", "limits.nvidia.com/gpu")),
  divisor: edgy(some<string | number>("1", "1m", "1Mi", "1Gi", "1k", 1), some<string | number>("2", "0", "1000m", "1024", "1Ki ")),
  containerName: some("web", "other"),
}, { requiredKeys: ["resource"], noNullPrototype: true });
const keyRef = fc.record({
  name: edgy(some("creds", "my.secret", "app-config"), some("Bad", "", "a_b")),
  key: edgy(some("password", "tls.crt", "a_b", ".hidden"), some("..x", ".", "..", "a/b", "")),
  optional: fc.boolean(),
}, { requiredKeys: ["name", "key"], noNullPrototype: true });
const envVar = fc.tuple(
  edgy(fc.oneof(some("A", "MY_VAR", "my.var", "x-y", "_a"), fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/)), some("1A", "", "A B", "..", ".", "..x", "a=b")),
  fc.oneof(
    { weight: 6, arbitrary: fc.string({ maxLength: 12 }).map((value) => ({ value })) },
    { weight: 2, arbitrary: fieldRef.map((ref) => ({ valueFrom: { fieldRef: ref } })) },
    { weight: 2, arbitrary: resourceFieldRef.map((ref) => ({ valueFrom: { resourceFieldRef: ref } })) },
    { weight: 2, arbitrary: fc.tuple(some("secretKeyRef", "configMapKeyRef"), keyRef).map(([source, ref]) => ({ valueFrom: { [source]: ref } })) },
    { weight: 1, arbitrary: some({ value: "x", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }, { valueFrom: {} }) },
  ),
).map(([name, source]) => ({ name, ...source }));

const easyServiceSpec = fc.record({
  size: edgy(fc.integer({ min: 0, max: 3 }), some(1000, 1001, -1, 1.5)),
  image: edgy(some("nginx", "nginx:1.25", "ghcr.io/example/app:v1", `registry.example.com:5000/a/b@sha256:${"a".repeat(64)}`), some("Nginx", "", "nginx latest")),
  resources,
  envs: fc.array(envVar, { maxLength: 3 }),
  // Names apart, mostly: two equal names are a problem of their own, tested in schemas.test.ts.
  ports: edgy(fc.uniqueArray(servicePort, { maxLength: 3, selector: (port) => port.name }), fc.array(servicePort, { maxLength: 3 }), 4),
  runAsUser: edgy(some<number | string>(1, 101, 1000, 2147483647), some<number | string>(0, -1, 2147483648, 1.5, "1000")),
}, { requiredKeys: ["size", "image"], noNullPrototype: true });

const host = edgy(
  fc.oneof(some("mlflow.example.com", "ml.team-a.example.org", "localhost", "Upper.Example.com", "xn--nicode-2ya.com"), fc.domain()),
  some("1.2.3.4", "123", "0x7f.1", "[::1]", `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(63)}.com`, "a_b.example.com", ""),
);
const urlPath = edgy(
  some("", "/", "/team", "/team/", "/a/b", "/a?x=1", "/a#frag"),
  some("//", "//a", "/a//b", "/a%2Fb", "/a%2fb", "/./a", "/a/..", "/a b", "/%2e%2e/x", "/a//"),
);
const url = fc.tuple(edgy(some("https", "http"), some("ftp")), edgy(some(""), some("user:pw@")), host, some("", ":8443"), urlPath)
  .map(([scheme, user, name, port, rest]) => `${scheme}://${user}${name}${port}${rest}`);

const trackingServerSpec = (tls: Fixtures) => fc.record({
  size: edgy(some(1), some<number | string>(0, 2, 3, -1, 101, "")),
  image: edgy(some("ghcr.io/mlflow/mlflow:v3.1.1", "mlflow:latest"), some("", "has space")),
  s3_endpoint_url: edgy(some("http://minio:9000", "https://s3.example.com"), some("", "minio:9000", "http://10.0.0.5:9000")),
  credentials: edgy(
    some<Record<string, string | undefined>>({ aws_access_key: "AKIAEXAMPLE", aws_secret_key: "s3cr3t" }, { s3CredentialsSecret: "s3-creds" }, {}),
    some({ aws_access_key: "AKIA" }, { aws_access_key: "a b", aws_secret_key: "" }, { aws_access_key: "A", aws_secret_key: "B", s3CredentialsSecret: "s3-creds" }, { s3CredentialsSecret: "Bad_Name" }),
  ),
  artifact_root: edgy(some("s3://bucket/runs", "/mlflow/artifacts", "gs://b/x"), some("a b", "")),
  serveArtifacts: edgy(some(true), some<boolean | string>(false, "", "yes"), 8),
  backend_uri: edgy(some("postgresql://u:p@db/mlflow", "sqlite:////mlflow/mlflow.db", "mysql://db/m"), some("has space", "")),
  url: edgy(url, some("")),
  volume: edgy(
    fc.record({ volumeSize: some("1Gi", "10Gi", "500Mi", "1e400"), storageClassName: some("standard", "fast") }, { requiredKeys: ["volumeSize"], noNullPrototype: true }),
    some<Record<string, string>>({ volumeSize: "0" }, { volumeSize: "-1Gi" }, { volumeSize: "lots" }, { volumeSize: "" }, { storageClassName: "fast" }, { volumeSize: "1Gi", storageClassName: "Fast" }, { volumeSize: "1Gi", storageClassName: "" }),
  ),
  retainVolume: fc.boolean(),
  resources,
  tls: edgy(some<Partial<Pem>>(...Object.values(tls.valid)), some(...Object.values(tls.invalid)), 4),
}, { requiredKeys: [], noNullPrototype: true }).map(({ credentials, volume, tls: pair, ...spec }) => ({ ...spec, ...credentials, ...volume, ...pair }));

const spec = (namespace: string, tls: Fixtures) => fc.oneof(
  fc.tuple(metadata(namespace), trackingServerSpec(tls)).map(([meta, body]) => ({ apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: meta, spec: body })),
  fc.tuple(metadata(namespace), easyServiceSpec).map(([meta, body]) => ({ apiVersion: "app.kubebuilder.io/v1", kind: "EasyService", metadata: meta, spec: body })),
);

// ---- Dry runs ----

/** Why the API server refuses to create `object` (dry run), or undefined when it takes it. */
async function refusal(c: Cluster, object: KubeObject): Promise<{ message: string; fields: string[] } | undefined> {
  try {
    await c.request("POST", `${pathOf(object, false)}?dryRun=All`, object);
    return undefined;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    let status: { message?: string; details?: { causes?: { field?: string; reason?: string }[] } } = {};
    try {
      status = JSON.parse(error.body);
    } catch {
      // Not a Status object: the error's own message says what happened.
    }
    const fields = (status.details?.causes ?? []).map((cause) => `${cause.field ?? ""} ${cause.reason ?? ""}`.trim());
    return { message: status.message ?? error.message, fields };
  }
}

/** `fn` over `items`, at most `limit` at once, results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

interface Verdict {
  raw: KubeObject;
  /** validate's problems, `path: message`; empty when it accepts the spec. */
  problems: string[];
  /** What the API server refused of the object and, for accepted specs, of its children. */
  refusals: { what: string; message: string; fields: string[] }[];
}

/**
 * A NodePort another test file's Service holds is refused at allocation: the cluster's state, which
 * validate cannot know (collectSpecs checks NodePorts between specs).
 */
const isClusterState = (message: string) => message.includes("provided port is already allocated");

async function verdictOf(c: Cluster, raw: KubeObject): Promise<Verdict> {
  const parsed = parseObject(raw);
  const objects: [string, KubeObject][] = [[`${raw.kind} as written`, raw]];
  if (parsed.ok) {
    objects.push([`${raw.kind} as the files source creates it`, customResourceManifest(parsed.object) as KubeObject]);
    for (const child of childrenOf(parsed.object, OPTIONS)) objects.push([child.kind, child as KubeObject]);
  }
  const refusals = [];
  for (const [what, object] of objects) {
    const refused = await refusal(c, object);
    if (refused !== undefined && !isClusterState(refused.message)) refusals.push({ what, ...refused });
  }
  return { raw, problems: parsed.ok ? [] : parsed.problems.map((problem) => `${problem.path}: ${problem.message}`), refusals };
}

/** A field path without its indices and map keys: `spec.ports[1].name` → `spec.ports[].name`. */
const fieldClass = (field: string) => field.replace(/\[[^\]]*\]/g, "[]");

/**
 * Of the specs validate refuses, how many the API server refuses at admission (the generated CRD, and the
 * `x-kubernetes-validations` it may gain), and the fields validate names for those it admits, most
 * frequent first: the rules the CRD does not express yet.
 */
function admissionSummary(verdicts: readonly Verdict[]) {
  const refused = verdicts.filter((verdict) => verdict.problems.length > 0);
  const admitted = refused.filter((verdict) => verdict.refusals.length === 0);
  const fields = new Map<string, number>();
  for (const verdict of admitted) {
    for (const problem of new Set(verdict.problems.map((line) => fieldClass(line.slice(0, line.indexOf(": ")))))) fields.set(problem, (fields.get(problem) ?? 0) + 1);
  }
  return { refused: refused.length - admitted.length, of: refused.length, admittedFields: [...fields].sort((a, b) => b[1] - a[1]) };
}

/** The spec as JSON, fixture PEM text by its fixture's name. */
const shown = (raw: KubeObject) => JSON.stringify(raw, (_key, value) => (typeof value === "string" ? fixtureNames.get(value) ?? value : value));

let c: Cluster;
const namespace = `differential-${Date.now().toString(36)}`;

before(async () => {
  c = await useCluster();
  await installCrds(c, crdManifests() as KubeObject[]);
  await c.request("POST", "/api/v1/namespaces", { metadata: { name: namespace } });
});

after(async () => {
  await c?.request("DELETE", `/api/v1/namespaces/${namespace}`);
});

test("every spec validate accepts is accepted by the API server, children included", async () => {
  console.log(`differential: seed ${SEED} (replay with CRDSTACK_DIFF_SEED=${SEED}), ${RUNS} specs`);
  const started = Date.now();
  const specs = fc.sample(spec(namespace, tlsFixtures()), { seed: SEED, numRuns: RUNS }) as unknown as KubeObject[];
  const verdicts = await mapLimit(specs, PARALLEL, (raw) => verdictOf(c, raw));

  const accepted = verdicts.filter((verdict) => verdict.problems.length === 0);
  const kinds = (list: readonly Verdict[], kind: string) => list.filter((verdict) => verdict.raw.kind === kind).length;
  console.log(`differential: ${kinds(verdicts, "TrackingServer")} TrackingServers, ${kinds(verdicts, "EasyService")} EasyServices; validate accepts ${accepted.length} (${kinds(accepted, "TrackingServer")} + ${kinds(accepted, "EasyService")}) in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  const admission = admissionSummary(verdicts);
  console.log(`admission refuses ${admission.refused} of ${admission.of} specs validate refuses (${Math.round((100 * admission.refused) / Math.max(admission.of, 1))}%)`);
  console.log(`admitted, by the field validate names: ${admission.admittedFields.map(([field, count]) => `${field} ${count}`).join(", ")}`);
  // With the CRDs' rules the share is above 80% (seed 1, 2000 specs: 83%); without them it was 59%.
  if (admission.of >= 200) assert.ok(admission.refused >= 0.75 * admission.of, `admission refuses only ${admission.refused} of ${admission.of} specs validate refuses (seed ${SEED})`);

  // One line per kind of refusal (object and field), with one spec that shows it.
  const gaps = new Map<string, { count: number; example: string }>();
  for (const verdict of accepted) {
    for (const refused of verdict.refusals) {
      const key = `${refused.what}: ${[...new Set((refused.fields.length > 0 ? refused.fields : [refused.message]).map(fieldClass))].join(", ")}`;
      const gap = gaps.get(key) ?? { count: 0, example: `${refused.message}\n    spec: ${shown(verdict.raw)}` };
      gaps.set(key, { ...gap, count: gap.count + 1 });
    }
  }
  const report = [...gaps].map(([key, gap]) => `${key} (${gap.count} specs)\n    ${gap.example}`);
  assert.equal(report.length, 0, `validate accepts what the API server refuses (seed ${SEED}):\n${report.join("\n")}`);
});
