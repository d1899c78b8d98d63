import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { operatorManifests, stacks, watcher, watcherConfig, watcherGuard, workspaceRbac, workspaceRules } from "../../builders/operator";
import { DEFAULT_WATCHER_IMAGE, OperatorConfig, selectorQuery } from "../../model/operator";
import { parseStackConfig } from "../../model/config";
import { resolveNamespaces, servableNamespaces } from "../../sources/namespaces";

const operator = (raw: Record<string, unknown> = {}) => OperatorConfig.parse({ repo: "https://github.com/example-org/crdstack.git", ...(raw.shards === undefined && raw.namespaceSelector === undefined ? { namespaces: ["team-a"] } : {}), ...raw });
const parse = (raw: Record<string, unknown>) => parseStackConfig({ operator: { repo: "https://x.example.com/r.git", ...raw } });

describe("Stack objects", () => {
  test("defaults: one Stack for its namespaces, running the cluster source, re-run by each resync without a refresh, continuing past a failed child, never destroying on delete", () => {
    const [stack] = stacks(operator());
    assert.deepEqual(stack.spec, {
      stack: "cluster",
      projectRepo: "https://github.com/example-org/crdstack.git",
      branch: "main",
      serviceAccountName: "crdstack-workspace",
      envRefs: { PULUMI_CONTINUE_ON_ERROR: { type: "Literal", literal: { value: "true" } } },
      config: { "crdstack:source": "cluster", "crdstack:installCrds": "false", "crdstack:namespaces": ["team-a"] },
      resyncFrequencySeconds: 300,
      continueResyncOnCommitMatch: true,
      destroyOnFinalize: false,
    });
  });

  test("secrets reach the workspace through envRefs to Secrets", () => {
    const [stack] = stacks(operator({ env: { PULUMI_ACCESS_TOKEN: { secret: "pulumi", key: "token" } } }));
    assert.deepEqual((stack.spec as any).envRefs, {
      PULUMI_CONTINUE_ON_ERROR: { type: "Literal", literal: { value: "true" } },
      PULUMI_ACCESS_TOKEN: { type: "Secret", secret: { name: "pulumi", key: "token" } },
    });
  });

  test("a user's own PULUMI_CONTINUE_ON_ERROR is kept, not overridden", () => {
    const [stack] = stacks(operator({ env: { PULUMI_CONTINUE_ON_ERROR: { secret: "settings", key: "continue" } } }));
    assert.deepEqual((stack.spec as any).envRefs, { PULUMI_CONTINUE_ON_ERROR: { type: "Secret", secret: { name: "settings", key: "continue" } } });
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
    assert.throws(() => parseStackConfig({ operator: { repo: "https://x.example.com/r.git", namespaces: ["n"], config: { source: "files" } } }), /config\.source: is set by crdstack/);
  });
});

describe("served namespaces", () => {
  test("without shards, namespaces or namespaceSelector is required, and the error says why", () => {
    assert.throws(() => parse({}), /crdstack:operator\.namespaces: is required \(or namespaceSelector\): the workspace and the watcher get rights only in the namespaces they serve, never cluster-wide/);
    assert.throws(() => parse({ namespaces: ["a"], namespaceSelector: { matchLabels: { t: "x" } } }), /crdstack:operator\.namespaceSelector: set namespaces or namespaceSelector, not both/);
    assert.throws(() => parse({ namespaces: ["a"], shards: [{ name: "s", namespaces: ["b"] }] }), /crdstack:operator\.namespaces: is for the Stack without shards/);
    assert.throws(() => parse({ namespaces: [] }), /crdstack:operator\.namespaces/);
    assert.throws(() => parse({ namespaceSelector: {} }), /crdstack:operator\.namespaceSelector: an empty selector selects every namespace/);
    assert.throws(() => parse({ namespaces: ["a", "a"] }), /crdstack:operator\.namespaces\[1\]: "a" is listed twice/);
  });

  test("the cluster's namespaces and the operator's own are refused in lists, naming the field", () => {
    for (const reserved of ["kube-system", "kube-public", "kube-node-lease", "crdstack-system"]) {
      assert.throws(() => parse({ namespaces: ["team", reserved] }), new RegExp(`crdstack:operator\\.namespaces\\[1\\]: "${reserved}" is not allowed: crdstack serves no tenant in kube-system, kube-public, kube-node-lease or its own namespace "crdstack-system"`));
    }
    assert.throws(() => parse({ namespace: "ops", shards: [{ name: "s", namespaces: ["a", "ops"] }] }), /crdstack:operator\.shards\[0\]\.namespaces\[1\]: "ops" is not allowed/);
  });

  test("a selector becomes an API label selector; its result leaves out the reserved namespaces and those being deleted", () => {
    assert.equal(selectorQuery({ matchLabels: { team: "a" }, matchExpressions: [{ key: "tier", operator: "In", values: ["x", "y"] }, { key: "legacy", operator: "DoesNotExist" }, { key: "t", operator: "Exists" }, { key: "u", operator: "NotIn", values: ["v"] }] }), "team=a,tier in (x,y),!legacy,t,u notin (v)");
    assert.throws(() => parse({ namespaceSelector: { matchExpressions: [{ key: "t", operator: "In" }] } }), /namespaceSelector\.matchExpressions\[0\]\.values: In needs at least one value/);
    assert.throws(() => parse({ namespaceSelector: { matchExpressions: [{ key: "t", operator: "In", values: ["a,b"] }] } }), /namespaceSelector\.matchExpressions\[0\]\.values\[0\]: "a,b" is not a label value/);
    const listed = ["kube-system", "b", "crdstack-system", "a", "kube-public", "kube-node-lease", "gone"].map((name) => ({ metadata: { name, ...(name === "gone" ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}) } }));
    assert.deepEqual(servableNamespaces(operator({ namespaceSelector: { matchLabels: { t: "x" } } }), listed), ["a", "b"]);
  });

  test("an unresolved selector cannot be rendered, and cannot be resolved without a cluster", async () => {
    const selecting = operator({ namespaceSelector: { matchLabels: { t: "x" } } });
    assert.throws(() => stacks(selecting), /namespaceSelector is not resolved/);
    await assert.rejects(resolveNamespaces(selecting, undefined), /crdstack:operator\.namespaceSelector: selecting namespaces \(t=x\) needs the cluster/);
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

  test("the workspace is bound in its served namespaces only; the one ClusterRoleBinding is system:auth-delegator", () => {
    const bindings = (config: Record<string, unknown>) => workspaceRbac(operator(config)).filter((m) => m.kind.endsWith("Binding")).map((m: any) => `${m.kind} ${m.metadata.namespace ?? ""} ${m.roleRef.name}`);
    assert.deepEqual(bindings({ namespaces: ["a", "b"] }), ["RoleBinding a crdstack-workspace", "RoleBinding b crdstack-workspace", "ClusterRoleBinding  system:auth-delegator"]);
    assert.deepEqual(bindings({ shards: [{ name: "s", namespaces: ["c"] }, { name: "t", namespaces: ["d"] }] }), ["RoleBinding c crdstack-workspace", "RoleBinding d crdstack-workspace", "ClusterRoleBinding  system:auth-delegator"]);
  });

  test("the take-over's rights and their admission policy exist only with takeover: true", () => {
    const kinds = (config: Record<string, unknown>) => workspaceRbac(operator(config)).map((m) => m.kind);
    assert.ok(!kinds({}).includes("ValidatingAdmissionPolicy"));
    assert.deepEqual(kinds({ takeover: true }).filter((kind) => kind.startsWith("Validating")), ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]);
    const clusterRole = workspaceRbac(operator({ takeover: true })).find((m) => m.kind === "ClusterRole") as any;
    assert.ok(clusterRole.rules.some((r: any) => r.resources.includes("trackingservers") && r.verbs.includes("patch")));
  });

  test("the watcher may list and watch the custom resources and the managed children but no Secrets, in its namespaces only, and get and patch only its own Stacks", () => {
    const manifests = watcher(operator({ shards: [{ name: "a", namespaces: ["x"] }, { name: "b", namespaces: ["y"] }] }), "// code");
    const role = manifests.find((m) => m.kind === "Role") as any;
    assert.deepEqual(role.rules, [{ apiGroups: ["pulumi.com"], resources: ["stacks"], resourceNames: ["crdstack-a", "crdstack-b"], verbs: ["get", "patch"] }]);
    const clusterRole = manifests.find((m) => m.kind === "ClusterRole") as any;
    assert.ok(clusterRole.rules.every((r: any) => r.verbs.join() === "list,watch"));
    assert.deepEqual(clusterRole.rules.flatMap((r: any) => r.resources).sort(), ["deployments", "easyservices", "ingresses", "persistentvolumeclaims", "services", "trackingservers"]);
    const bindings = manifests.filter((m) => m.kind.endsWith("Binding") && !m.kind.startsWith("Validating")).map((m: any) => `${m.kind} ${m.metadata.namespace} ${m.roleRef.kind}/${m.roleRef.name}`);
    assert.deepEqual(bindings, ["RoleBinding x ClusterRole/crdstack-watcher", "RoleBinding y ClusterRole/crdstack-watcher", "RoleBinding crdstack-system Role/crdstack-watcher"]);
  });

  test("the watcher's admission policy matches its own updates of Stacks and answers 422", () => {
    const [policy, binding] = watcherGuard(operator({ namespace: "ops" })) as any[];
    assert.deepEqual(policy.spec.matchConstraints.resourceRules, [{ apiGroups: ["pulumi.com"], apiVersions: ["*"], operations: ["UPDATE"], resources: ["stacks"] }]);
    assert.equal(policy.spec.matchConditions[0].expression, "request.userInfo.username == 'system:serviceaccount:ops:crdstack-watcher'");
    assert.ok(policy.spec.validations.every((v: any) => v.reason === "Invalid"));
    assert.deepEqual(binding.spec, { policyName: policy.metadata.name, validationActions: ["Deny"] });
  });
});

describe("watcher Deployment", () => {
  test("a stock Node image runs the code from the ConfigMap; a code or config change rolls the pod", () => {
    const first = watcher(operator(), "// v1");
    const deployment = first.find((m) => m.kind === "Deployment") as any;
    const container = deployment.spec.template.spec.containers[0];
    assert.equal(container.image, DEFAULT_WATCHER_IMAGE);
    assert.match(DEFAULT_WATCHER_IMAGE, /^node:20-alpine@sha256:[a-f0-9]{64}$/);
    assert.deepEqual(container.command, ["node", "/opt/crdstack/watcher.js"]);
    assert.deepEqual(JSON.parse(container.env[0].value), watcherConfig(operator()));
    assert.equal((first.find((m) => m.kind === "ConfigMap") as any).data["watcher.js"], "// v1");
    const checksum = (manifests: typeof first) => (manifests.find((m) => m.kind === "Deployment") as any).spec.template.metadata.annotations["crdstack/checksum"];
    assert.notEqual(checksum(first), checksum(watcher(operator(), "// v2")));
    assert.notEqual(checksum(first), checksum(watcher(operator({ watcher: { debounceMs: 500 } }), "// v1")));
    assert.equal(deployment.spec.strategy.type, "Recreate");
  });

  test("the watcher's image must be pinned by digest", () => {
    const image = "registry.example.com/node@sha256:" + "a".repeat(64);
    assert.equal(operator({ watcher: { image } }).watcher.image, image);
    assert.throws(() => parse({ namespaces: ["a"], watcher: { image: "node:20-alpine" } }), /crdstack:operator\.watcher\.image: "node:20-alpine" is not an image pinned by digest \(<name>@sha256:<64 hex digits>\)/);
    assert.throws(() => parse({ namespaces: ["a"], watcher: { image: "node@sha256:abc" } }), /watcher\.image: "node@sha256:abc" is not an image pinned by digest/);
  });

  test("render --operator lists the namespace first and the watcher last", () => {
    const kinds = operatorManifests(operator()).map((m) => m.kind);
    assert.equal(kinds[0], "Namespace");
    assert.equal(kinds[kinds.length - 1], "Deployment");
  });
});
