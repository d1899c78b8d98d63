// The bootstrap stack under the real engine with a `namespaceSelector`: the selector is resolved against
// the cluster when the stack runs, and the plan binds the workspace and the watcher in the selected
// namespaces only (never a reserved one, even labelled), with the Stack reading just those.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Cluster, create, useCluster } from "../cluster/cluster";
import { installStackCrd } from "../cluster/operatorSetup";
import { newStack, PulumiStack } from "./pulumi";

const OPS = "boot-ops";
const LABEL = { "crdstack-test/tenant": "yes" };
let c: Cluster;
let stack: PulumiStack | undefined;

before(async () => {
  c = await useCluster();
  await installStackCrd(c);
  for (const [name, labels] of [["boot-a", LABEL], ["boot-b", LABEL], ["boot-c", {}], [OPS, LABEL]] as const) {
    await create(c, { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } });
  }
  // A reserved namespace with the label: the selector must still leave it out.
  await c.request("PATCH", "/api/v1/namespaces/kube-public", { metadata: { labels: LABEL } }, "application/merge-patch+json");
});
after(async () => {
  await stack?.remove();
  await c?.request("PATCH", "/api/v1/namespaces/kube-public", { metadata: { labels: { "crdstack-test/tenant": null } } }, "application/merge-patch+json");
});

test("a namespaceSelector is resolved when the bootstrap stack runs: RoleBindings and the Stack's namespaces are the selected tenants'", async () => {
  stack = await newStack(c.toolchain, {
    config: { operator: { namespace: OPS, repo: "https://github.com/example-org/crdstack.git", namespaceSelector: { matchLabels: LABEL } } },
    kubeconfig: c.kubeconfig,
  });
  const preview = JSON.parse((await stack.run(["preview", "--json", "--config-file", stack.configFile])).stdout) as { steps: { op: string; urn: string; newState?: { inputs?: any } }[] };
  const named = (type: string) => preview.steps.filter((step) => step.urn.split("::")[2].endsWith(`:${type}`)).map((step) => step.urn.split("::")[3]).sort();
  assert.deepEqual(named("RoleBinding"), ["boot-a/crdstack-watcher", "boot-a/crdstack-workspace", "boot-b/crdstack-watcher", "boot-b/crdstack-workspace", `${OPS}/crdstack-watcher`]);
  assert.deepEqual(named("ClusterRoleBinding"), ["crdstack-workspace-auth-delegator"]);
  const stackStep = preview.steps.find((step) => step.urn.endsWith(`::${OPS}/crdstack`) && step.urn.includes("pulumi.com/v1:Stack"));
  assert.deepEqual(stackStep?.newState?.inputs?.spec?.config?.["crdstack:namespaces"], ["boot-a", "boot-b"]);
});

test("a selector that selects no tenant namespace fails the run, saying so", async () => {
  stack!.setConfig({ operator: { namespace: OPS, repo: "https://github.com/example-org/crdstack.git", namespaceSelector: { matchLabels: { "crdstack-test/tenant": "nobody" } } } });
  const result = await stack!.run(["preview", "--config-file", stack!.configFile], true);
  assert.notEqual(result.code, 0);
  assert.match(result.stdout + result.stderr, /crdstack:operator\.namespaceSelector: crdstack-test\/tenant=nobody selects no namespace crdstack may serve/);
});
