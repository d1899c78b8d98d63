import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { operatorManifests, stacks, watcher, watcherConfig, workspaceRbac, workspaceRules } from "../../builders/operator";
import { OperatorConfig } from "../../model/operator";
import { parseStackConfig } from "../../model/config";

const operator = (raw: Record<string, unknown> = {}) => OperatorConfig.parse({ repo: "https://github.com/example-org/crdstack.git", ...raw });

describe("Stack objects", () => {
  test("defaults: one Stack for all namespaces, running the cluster source, never destroying on delete", () => {
    const [stack] = stacks(operator());
    assert.deepEqual(stack.spec, {
      stack: "cluster",
      projectRepo: "https://github.com/example-org/crdstack.git",
      branch: "main",
      serviceAccountName: "crdstack-workspace",
      envRefs: {},
      config: { "crdstack:source": "cluster", "crdstack:installCrds": "false" },
      resyncFrequencySeconds: 300,
      destroyOnFinalize: false,
    });
  });

  test("secrets reach the workspace through envRefs to Secrets", () => {
    const [stack] = stacks(operator({ env: { PULUMI_ACCESS_TOKEN: { secret: "pulumi", key: "token" } } }));
    assert.deepEqual((stack.spec as any).envRefs, { PULUMI_ACCESS_TOKEN: { type: "Secret", secret: { name: "pulumi", key: "token" } } });
  });

  test("Stack names stay within the operator's limit of 42 characters (its CEL rule)", () => {
    const longest = "s".repeat(33);
    for (const stack of stacks(operator({ shards: [{ name: longest, namespaces: ["a"] }] }))) assert.ok(stack.metadata.name.length <= 42, stack.metadata.name);
    assert.throws(() => operator({ shards: [{ name: "s".repeat(34), namespaces: ["a"] }] }), /longer than 33 characters/);
  });

  test("resyncFrequencySeconds below the operator's minimum of 60 is refused", () => {
    assert.throws(() => parseStackConfig({ operator: { repo: "https://x.example.com/r.git", resyncFrequencySeconds: 30 } }), /crdstack:operator\.resyncFrequencySeconds: 30 is outside 60-86400/);
  });

  test("a namespace in two shards, or a reserved config key, is refused", () => {
    assert.throws(() => parseStackConfig({ operator: { repo: "https://x.example.com/r.git", shards: [{ name: "a", namespaces: ["n"] }, { name: "b", namespaces: ["n"] }] } }), /shards\[1\]\.namespaces\[0\]: "n" is already in shard "a"/);
    assert.throws(() => parseStackConfig({ operator: { repo: "https://x.example.com/r.git", config: { source: "files" } } }), /config\.source: is set by crdstack/);
  });
});

describe("RBAC", () => {
  test("the workspace may read the custom resources and write only their status; no CRD, namespace or RBAC rights", () => {
    const rules = workspaceRules();
    const rightsOn = (resource: string) => rules.filter((r) => r.resources.includes(resource)).flatMap((r) => r.verbs);
    assert.deepEqual(rightsOn("trackingservers"), ["get", "list", "watch"]);
    assert.deepEqual(workspaceRules(true).filter((r) => r.resources.includes("trackingservers")).flatMap((r) => r.verbs), ["get", "list", "watch", "patch"]);
    assert.deepEqual(rightsOn("trackingservers/status"), ["get", "update", "patch"]);
    assert.ok(rightsOn("deployments").includes("delete"));
    for (const forbidden of ["customresourcedefinitions", "namespaces", "clusterroles", "roles", "rolebindings"]) assert.deepEqual(rightsOn(forbidden), [], forbidden);
  });

  test("the take-over's rights and their admission policy exist only with takeover: true", () => {
    const kinds = (config: Record<string, unknown>) => workspaceRbac(operator(config)).map((m) => m.kind);
    assert.ok(!kinds({}).includes("ValidatingAdmissionPolicy"));
    assert.deepEqual(kinds({ takeover: true }).filter((kind) => kind.startsWith("Validating")), ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]);
    const clusterRole = workspaceRbac(operator({ takeover: true })).find((m) => m.kind === "ClusterRole") as any;
    assert.ok(clusterRole.rules.some((r: any) => r.resources.includes("trackingservers") && r.verbs.includes("patch")));
  });

  test("the watcher may list and watch the custom resources, and get and patch only its own Stacks", () => {
    const manifests = watcher(operator({ shards: [{ name: "a", namespaces: ["x"] }] }), "// code");
    const role = manifests.find((m) => m.kind === "Role") as any;
    assert.deepEqual(role.rules, [{ apiGroups: ["pulumi.com"], resources: ["stacks"], resourceNames: ["crdstack-a"], verbs: ["get", "patch"] }]);
    const clusterRole = manifests.find((m) => m.kind === "ClusterRole") as any;
    assert.ok(clusterRole.rules.every((r: any) => r.verbs.join() === "list,watch"));
  });
});

describe("watcher Deployment", () => {
  test("a stock Node image runs the code from the ConfigMap; a code or config change rolls the pod", () => {
    const first = watcher(operator(), "// v1");
    const deployment = first.find((m) => m.kind === "Deployment") as any;
    const container = deployment.spec.template.spec.containers[0];
    assert.equal(container.image, "node:20-alpine");
    assert.deepEqual(container.command, ["node", "/opt/crdstack/watcher.js"]);
    assert.deepEqual(JSON.parse(container.env[0].value), watcherConfig(operator()));
    assert.equal((first.find((m) => m.kind === "ConfigMap") as any).data["watcher.js"], "// v1");
    const checksum = (manifests: typeof first) => (manifests.find((m) => m.kind === "Deployment") as any).spec.template.metadata.annotations["crdstack/checksum"];
    assert.notEqual(checksum(first), checksum(watcher(operator(), "// v2")));
    assert.notEqual(checksum(first), checksum(watcher(operator({ watcher: { debounceMs: 500 } }), "// v1")));
    assert.equal(deployment.spec.strategy.type, "Recreate");
  });

  test("render --operator lists the namespace first and the watcher last", () => {
    const kinds = operatorManifests(operator()).map((m) => m.kind);
    assert.equal(kinds[0], "Namespace");
    assert.equal(kinds[kinds.length - 1], "Deployment");
  });
});
