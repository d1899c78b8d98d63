// What the program reads of the objects it does not own, against the real API server: their metadata in
// one LIST per kind and namespace (never a Secret's value), the referable label, and the API server's
// dry run that tells whether a NodePort is free cluster-wide.
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { after, before, describe, test } from "node:test";
import { crdManifests } from "../../model/crd";
import { LISTED_KINDS } from "../../model/existing";
import { buildEasyService } from "../../builders/easyService";
import { refusalProblem } from "../../model/dryRun";
import { REFERABLE_LABEL, referenceProblems } from "../../model/references";
import { dryRunApply, readCluster } from "../../sources/cluster";
import { easyService } from "../helpers";
import { apply, Cluster, create, eventually, freshNamespace, installCrds, KubeObject, readObject, useCluster } from "./cluster";
import { recordingProxy, RecordingProxy, serviceAccountToken } from "./operatorSetup";

const SECRET_VALUE = "references-test-secret-value";
let c: Cluster;
let one: string;
let two: string;
let proxy: RecordingProxy;

before(async () => {
  c = await useCluster();
  await installCrds(c, crdManifests() as KubeObject[]);
  one = await freshNamespace(c, "refs-one");
  two = await freshNamespace(c, "refs-two");
  proxy = await recordingProxy(c);
});
after(() => proxy?.close());

const secret = (namespace: string, name: string, labels: Record<string, string> = {}, type = "Opaque"): KubeObject =>
  ({ apiVersion: "v1", kind: "Secret", metadata: { name, namespace, labels }, type, stringData: type === "kubernetes.io/tls" ? { "tls.crt": SECRET_VALUE, "tls.key": SECRET_VALUE } : { token: SECRET_VALUE } });
const nodePortService = (namespace: string, name: string, nodePort: number): KubeObject =>
  ({ apiVersion: "v1", kind: "Service", metadata: { name, namespace }, spec: { type: "NodePort", selector: { app: name }, ports: [{ port: 80, nodePort }] } });

/**
 * A service account with only what the reads need in the two namespaces (list), through the recording
 * proxy: what the reads ask for, with no more rights than the workspace has.
 */
async function readerConfig(): Promise<k8s.KubeConfig> {
  const rules = [
    { apiGroups: ["experiment.aiscope"], resources: ["trackingservers"], verbs: ["list"] },
    { apiGroups: ["app.kubebuilder.io"], resources: ["easyservices"], verbs: ["list"] },
    ...LISTED_KINDS.map(({ apiVersion, plural }) => ({ apiGroups: [apiVersion.includes("/") ? apiVersion.split("/")[0] : ""], resources: [plural], verbs: ["list"] })),
  ];
  await create(c, { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: "refs-reader" }, rules });
  await create(c, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "reader", namespace: one } });
  for (const namespace of [one, two]) {
    await create(c, {
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: "reader", namespace },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "refs-reader" },
      subjects: [{ kind: "ServiceAccount", name: "reader", namespace: one }],
    });
  }
  const token = await serviceAccountToken(c, one, "reader");
  const config = new k8s.KubeConfig();
  config.loadFromClusterAndUser({ name: "proxy", server: proxy.server, skipTLSVerify: true }, { name: "reader", token });
  return config;
}

describe("what the cluster holds, by metadata", () => {
  test("one LIST per kind and namespace, metadata only: labels, annotations, ownerReferences, managers, a Secret's type, never its value", async () => {
    await create(c, secret(one, "token", { [REFERABLE_LABEL]: "true" }));
    await create(c, secret(one, "site", {}, "kubernetes.io/tls"));
    await create(c, secret(two, "elsewhere"));
    const owner: KubeObject = await create(c, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "owner", namespace: one }, data: { a: "b" } } as KubeObject);
    await create(c, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: one, annotations: { note: "x" }, ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata.uid, controller: true }] }, data: { mode: "fast" } });
    await apply(c, { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: one }, spec: { selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx" }] } } } });

    const config = await readerConfig();
    // A first read may be retried while the API server builds its cache of the CRDs just installed (429).
    await eventually("the reader's rights", () => readCluster(config, [one, two]));
    proxy.requests.length = 0;
    const state = await readCluster(config, [one, two]);
    const lists = proxy.requests.map((r) => `${r.method} ${r.path.split("?")[0]}`);
    const expected = [one, two].flatMap((namespace) => [
      `GET /apis/experiment.aiscope/v1alpha2/namespaces/${namespace}/trackingservers`,
      `GET /apis/app.kubebuilder.io/v1/namespaces/${namespace}/easyservices`,
      ...LISTED_KINDS.map(({ apiVersion, plural }) => `GET /${apiVersion.includes("/") ? "apis" : "api"}/${apiVersion}/namespaces/${namespace}/${plural}`),
    ]);
    assert.deepEqual(lists.sort(), expected.sort());
    for (const request of proxy.requests.filter((r) => LISTED_KINDS.some(({ plural }) => r.path.split("?")[0].endsWith(`/${plural}`)))) {
      assert.match(request.accept, /as=(PartialObjectMetadataList|Table);g=meta\.k8s\.io;v=v1/, request.path);
    }
    assert.ok(!JSON.stringify([...state.existing.values()]).includes(SECRET_VALUE), "no value of a Secret or ConfigMap");
    assert.ok(!JSON.stringify([...state.existing.values()]).includes("fast"));

    const settings = state.existing.get(`ConfigMap ${one}/settings`)!;
    assert.deepEqual(settings.annotations, { note: "x" });
    assert.deepEqual(settings.ownerReferences, [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata.uid, controller: true }]);
    assert.equal(state.existing.get(`Secret ${one}/token`)!.labels[REFERABLE_LABEL], "true");
    assert.equal(state.existing.get(`Secret ${one}/site`)!.type, "kubernetes.io/tls");
    assert.deepEqual([...state.tlsSecrets], [`${one}/site`]);
    assert.ok(state.existing.has(`Secret ${two}/elsewhere`));
    const web = state.existing.get(`Deployment ${one}/web`)!;
    const applied = web.managedFields.find((m) => m.manager === "crdstack-test");
    assert.equal(applied?.operation, "Apply");
    assert.match(applied.time!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const onlyOne = await readCluster(config, [one]);
    assert.ok(![...onlyOne.existing.keys()].some((key) => key.includes(`${two}/`)), "limited to the configured namespaces");
  });

  test("the referable label, as the API server stores it, decides whether an EasyService may name a Secret", async () => {
    await create(c, secret(one, "plain"));
    const state = await readCluster(c.config, [one]);
    const env = (name: string) => ({ name: name.toUpperCase(), valueFrom: { secretKeyRef: { name, key: "token" } } });
    const problems = referenceProblems(easyService({ size: 1, image: "nginx", envs: [env("token"), env("plain")] }, "web", one), state.existing);
    assert.deepEqual(problems.map((p) => [p.path, p.reason]), [["spec.envs[1].valueFrom.secretKeyRef.name", "NotReferable"]]);
  });
});

describe("NodePorts, which only the API server knows cluster-wide", () => {
  test("a dry run of a Service asking for a NodePort held in another namespace is refused with the server's message; a free one passes, and nothing is stored", async () => {
    await create(c, nodePortService(two, "holder", 30555));
    const taker = easyService({ size: 1, image: "nginx", ports: [{ name: "http", port: 80 }, { name: "admin", port: 81, nodePort: 30555 }] }, "taker", one);
    const service = buildEasyService(taker).service!;
    const message = await dryRunApply(c.config, service);
    assert.ok(message !== undefined, "refused");
    assert.match(message, /provided port is already allocated/);
    assert.deepEqual(refusalProblem(taker, service, message).path, "spec.ports[1].nodePort");

    const free = easyService({ size: 1, image: "nginx", ports: [{ port: 80, nodePort: 30556 }] }, "free", one);
    assert.equal(await dryRunApply(c.config, buildEasyService(free).service!), undefined);
    assert.equal(await readObject(c, { apiVersion: "v1", kind: "Service", metadata: { name: "free", namespace: one } }), undefined, "a dry run stores nothing");
    await create(c, nodePortService(two, "later", 30556));
  });
});
