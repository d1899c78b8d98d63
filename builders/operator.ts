// The in-cluster companions of the program, as pure functions of `crdstack:operator`: the Stacks the
// Pulumi Kubernetes Operator runs, their workspace's least-privilege RBAC (in the served namespaces
// only), and the watcher that re-runs a Stack when one of its custom resources or managed children
// changes. `render --operator` prints them; the Operator component registers them.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { KINDS } from "../model/objects";
import { OperatorConfig } from "../model/operator";
import { ORIGINAL_FINALIZER, ORIGINAL_SPEC_ANNOTATION } from "../model/takeover";
import { Manifest, MANAGED_BY, RESTRICTED_CONTAINER, RUNTIME_DEFAULT_SECCOMP } from "./meta";

export const WORKSPACE = "crdstack-workspace";
export const WATCHER = "crdstack-watcher";
export const WATCHER_SOURCE = path.join(__dirname, "..", "watcher", "watcher.js");
/** The Stack annotation whose change makes the operator run the Stack now. */
export const RECONCILIATION_REQUEST = "pulumi.com/reconciliation-request";

const labels = (component: string) => ({ "app.kubernetes.io/name": component, "app.kubernetes.io/part-of": "crdstack", "app.kubernetes.io/managed-by": MANAGED_BY });

/** A Stack of the operator and the namespaces its program serves (never none: none would read all). */
export interface StackPlan { name: string; stack: string; namespaces: string[] }

/** The names of the Stack objects, known before a `namespaceSelector` is resolved. */
export function stackNames(operator: OperatorConfig): string[] {
  return operator.shards.length > 0 ? operator.shards.map((shard) => `crdstack-${shard.name}`) : ["crdstack"];
}

export function stackPlans(operator: OperatorConfig): StackPlan[] {
  const names = stackNames(operator);
  if (operator.shards.length > 0) return operator.shards.map((shard, i) => ({ name: names[i], stack: `${operator.stack}-${shard.name}`, namespaces: shard.namespaces }));
  // The schema requires namespaces or a selector; sources/namespaces.ts turns a selector into namespaces.
  if (operator.namespaces === undefined) throw new Error("crdstack:operator.namespaceSelector is not resolved: the namespaces it selects are read from the cluster first (resolveNamespaces)");
  return [{ name: names[0], stack: operator.stack, namespaces: operator.namespaces }];
}

/** Every namespace a Stack serves: where the workspace and the watcher get their rights. */
export function servedNamespaces(operator: OperatorConfig): string[] {
  return stackPlans(operator).flatMap((plan) => plan.namespaces);
}

const READ = ["get", "list", "watch"];
const MANAGE = ["get", "list", "watch", "create", "update", "patch", "delete"];
const customResources = Object.values(KINDS);

/**
 * What the program does in the cluster, and nothing more: read the custom resources and write their
 * status, manage the child kinds, list ConfigMaps (by metadata, for references) and pods (why a
 * Deployment is not ready). It needs no CRD, namespace or RBAC rights: the bootstrap stack installs those.
 * With `takeover`, also `patch` on the custom resources, to release the original controllers' finalizer
 * and annotation when it takes their objects over (providers/takeover.ts), limited to that by
 * `workspaceGuard`; the program never writes a spec in the cluster.
 */
export function workspaceRules(takeover = false) {
  return [
    ...customResources.map(({ group, plural }) => ({ apiGroups: [group], resources: [plural], verbs: takeover ? [...READ, "patch"] : READ })),
    ...customResources.map(({ group, plural }) => ({ apiGroups: [group], resources: [`${plural}/status`], verbs: ["get", "update", "patch"] })),
    { apiGroups: [""], resources: ["secrets", "services", "persistentvolumeclaims"], verbs: MANAGE },
    { apiGroups: ["apps"], resources: ["deployments"], verbs: MANAGE },
    { apiGroups: ["networking.k8s.io"], resources: ["ingresses"], verbs: MANAGE },
    // Which ConfigMaps a spec's references may name: listed by metadata only (model/existing.ts).
    { apiGroups: [""], resources: ["configmaps"], verbs: ["list"] },
    // The status says why a Deployment is not ready from one of its pods (providers/readiness.ts). Nothing
    // else is awaited: every child skips the provider's await (components/children.ts).
    { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
  ];
}

/** The children the watcher follows: each change of one may be drift (or a pod's readiness) to reconcile. Never Secrets: a LIST returns their values. */
export const WATCHED_CHILDREN = [
  { apiGroups: ["apps"], resources: ["deployments"] },
  { apiGroups: [""], resources: ["services", "persistentvolumeclaims"] },
  { apiGroups: ["networking.k8s.io"], resources: ["ingresses"] },
];

/**
 * In each served namespace, the watcher lists and watches the custom resources and the children it
 * follows (it asks for metadata only, which RBAC cannot enforce: list/watch is all it needs). It gets
 * and patches its own Stacks, limited to the reconciliation-request annotation by `watcherGuard`.
 */
export function watcherRules() {
  return [
    ...customResources.map(({ group, plural }) => ({ apiGroups: [group], resources: [plural], verbs: ["list", "watch"] })),
    ...WATCHED_CHILDREN.map((rule) => ({ ...rule, verbs: ["list", "watch"] })),
  ];
}

function serviceAccount(namespace: string, name: string): Manifest {
  return { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace, labels: labels(name) } };
}

function binding(kind: "ClusterRoleBinding" | "RoleBinding", name: string, namespace: string | undefined, role: { kind: string; name: string }, account: { name: string; namespace: string }): Manifest {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind,
    metadata: { name, ...(namespace === undefined ? {} : { namespace }), labels: labels(account.name) },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", ...role },
    subjects: [{ kind: "ServiceAccount", ...account }],
  };
}

/**
 * What the workspace may change on a custom resource, which RBAC cannot say: only the release of the
 * original controllers' marks on a take-over (their finalizer and annotation leave it), never the spec,
 * labels or other metadata a tenant set. A policy of the API server (Kubernetes 1.30 on), so that
 * whoever controls the program cannot use that `patch` to rewrite specs.
 */
export function workspaceGuard(operator: OperatorConfig): Manifest[] {
  const name = `${WORKSPACE}-custom-resources`;
  const optional = (which: string, field: string) => `${which}.metadata.?${field}`;
  const list = (which: string, field: string) => `${optional(which, field)}.orValue([])`;
  const map = (which: string, field: string) => `${optional(which, field)}.orValue({})`;
  const same = (field: string) => `${optional("object", field)} == ${optional("oldObject", field)}`;
  const validations = [
    { expression: "object.?spec == oldObject.?spec", message: "the workspace may not change a spec" },
    { expression: ["labels", "ownerReferences", "generateName"].map(same).join(" && "), message: "the workspace may not change labels or ownerReferences" },
    {
      expression: `${list("object", "finalizers")}.all(f, f in ${list("oldObject", "finalizers")}) && ${list("oldObject", "finalizers")}.all(f, f in ${list("object", "finalizers")} || f == '${ORIGINAL_FINALIZER}')`,
      message: `the workspace may only remove the finalizer ${ORIGINAL_FINALIZER}`,
    },
    {
      expression: `${map("object", "annotations")}.all(k, k in ${map("oldObject", "annotations")} && ${map("object", "annotations")}[k] == ${map("oldObject", "annotations")}[k]) && ${map("oldObject", "annotations")}.all(k, k in ${map("object", "annotations")} || k == '${ORIGINAL_SPEC_ANNOTATION}')`,
      message: `the workspace may only remove the annotation ${ORIGINAL_SPEC_ANNOTATION}`,
    },
  // Invalid (422), not Forbidden: the program takes a 403 for "no right to release" and carries on, but
  // a refusal by this policy is a defect to see.
  ].map((validation) => ({ ...validation, reason: "Invalid" }));
  return [
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicy",
      metadata: { name, labels: labels(WORKSPACE) },
      spec: {
        failurePolicy: "Fail",
        matchConstraints: {
          resourceRules: customResources.map(({ group, plural }) => ({ apiGroups: [group], apiVersions: ["*"], operations: ["UPDATE"], resources: [plural] })),
        },
        matchConditions: [{ name: "workspace", expression: `request.userInfo.username == 'system:serviceaccount:${operator.namespace}:${WORKSPACE}'` }],
        validations,
      },
    },
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicyBinding",
      metadata: { name, labels: labels(WORKSPACE) },
      spec: { policyName: name, validationActions: ["Deny"] },
    },
  ];
}

/**
 * The workspace's service account and RBAC: its ClusterRole is a template bound by a RoleBinding in each
 * served namespace, so it holds no right elsewhere; only `system:auth-delegator` is cluster-wide.
 */
export function workspaceRbac(operator: OperatorConfig): Manifest[] {
  const account = { name: WORKSPACE, namespace: operator.namespace };
  const role = { kind: "ClusterRole", name: WORKSPACE };
  return [
    serviceAccount(operator.namespace, WORKSPACE),
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: WORKSPACE, labels: labels(WORKSPACE) }, rules: workspaceRules(operator.takeover) },
    ...servedNamespaces(operator).map((namespace) => binding("RoleBinding", WORKSPACE, namespace, role, account)),
    // The operator's workspace authenticates its agent with token reviews.
    binding("ClusterRoleBinding", `${WORKSPACE}-auth-delegator`, undefined, { kind: "ClusterRole", name: "system:auth-delegator" }, account),
    ...(operator.takeover ? workspaceGuard(operator) : []),
  ];
}

/**
 * The workspace's environment: the user's Secrets, and `PULUMI_CONTINUE_ON_ERROR` so that a child the
 * API server refuses at apply (one the dry run did not catch, sources/plan.ts) fails alone while the
 * others are still applied. A user's own `PULUMI_CONTINUE_ON_ERROR` is kept as they set it.
 */
function envRefs(operator: OperatorConfig): Record<string, unknown> {
  const refs: Record<string, unknown> = { PULUMI_CONTINUE_ON_ERROR: { type: "Literal", literal: { value: "true" } } };
  for (const [name, ref] of Object.entries(operator.env)) refs[name] = { type: "Secret", secret: { name: ref.secret, key: ref.key } };
  return refs;
}

/** The operator's Stack objects (`pulumi.com/v1`), one per shard. */
export function stacks(operator: OperatorConfig): Manifest[] {
  return stackPlans(operator).map((plan) => {
    const config: Record<string, unknown> = { "crdstack:source": "cluster", "crdstack:installCrds": "false", "crdstack:namespaces": plan.namespaces };
    for (const [key, value] of Object.entries(operator.config)) config[key.startsWith("crdstack:") ? key : `crdstack:${key}`] = value;
    const spec: Record<string, unknown> = {
      stack: plan.stack,
      projectRepo: operator.repo,
      branch: operator.branch,
      ...(operator.repoDir === undefined ? {} : { repoDir: operator.repoDir }),
      ...(operator.backend === undefined ? {} : { backend: operator.backend }),
      ...(operator.secretsProvider === undefined ? {} : { secretsProvider: operator.secretsProvider }),
      serviceAccountName: WORKSPACE,
      envRefs: envRefs(operator),
      config,
      resyncFrequencySeconds: operator.resyncFrequencySeconds,
      // A resync on the same commit runs again (by default the operator skips a commit it ran). No
      // `refresh`: a refresh fails the whole run once a namespace stops being served (403).
      continueResyncOnCommitMatch: true,
      // Deleting the Stack object must never delete the teams' servers.
      destroyOnFinalize: false,
    };
    return { apiVersion: "pulumi.com/v1", kind: "Stack", metadata: { name: plan.name, namespace: operator.namespace, labels: labels("crdstack") }, spec };
  });
}

/**
 * What the watcher may change on its Stacks, which RBAC cannot say: the reconciliation-request annotation
 * and nothing else (spec, labels, other annotations, finalizers, ownerReferences stay as they are), so
 * that its token cannot point a Stack at another repository or stop its runs.
 */
export function watcherGuard(operator: OperatorConfig): Manifest[] {
  // Named after the operator's namespace: the policy names the watcher of that namespace, and another
  // installation in the same cluster has its own.
  const name = `${WATCHER}-stacks-${operator.namespace}`;
  const same = (field: string) => `object.metadata.?${field} == oldObject.metadata.?${field}`;
  const annotations = (which: string) => `${which}.metadata.?annotations.orValue({})`;
  const validations = [
    { expression: "object.?spec == oldObject.?spec", message: "the watcher may not change a Stack's spec" },
    { expression: ["labels", "finalizers", "ownerReferences"].map(same).join(" && "), message: "the watcher may not change a Stack's labels, finalizers or ownerReferences" },
    {
      expression: `${annotations("object")}.all(k, k == '${RECONCILIATION_REQUEST}' || (k in ${annotations("oldObject")} && ${annotations("object")}[k] == ${annotations("oldObject")}[k])) && ${annotations("oldObject")}.all(k, k == '${RECONCILIATION_REQUEST}' || k in ${annotations("object")})`,
      message: `the watcher may change no annotation but ${RECONCILIATION_REQUEST}`,
    },
  ].map((validation) => ({ ...validation, reason: "Invalid" }));
  return [
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicy",
      metadata: { name, labels: labels(WATCHER) },
      spec: {
        failurePolicy: "Fail",
        matchConstraints: { resourceRules: [{ apiGroups: ["pulumi.com"], apiVersions: ["*"], operations: ["UPDATE"], resources: ["stacks"] }] },
        matchConditions: [{ name: "watcher", expression: `request.userInfo.username == 'system:serviceaccount:${operator.namespace}:${WATCHER}'` }],
        validations,
      },
    },
    { apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicyBinding", metadata: { name, labels: labels(WATCHER) }, spec: { policyName: name, validationActions: ["Deny"] } },
  ];
}

/** The watcher's configuration: debounce, and which Stack owns which namespaces. */
export function watcherConfig(operator: OperatorConfig) {
  const { debounceMs } = operator.watcher;
  return { debounceMs, maxWaitMs: 4 * debounceMs, stacks: stackPlans(operator).map((plan) => ({ namespace: operator.namespace, name: plan.name, namespaces: plan.namespaces })) };
}

/** The watcher: service account, RBAC, its admission policy, its code in a ConfigMap, and a Deployment of a stock Node.js image pinned by digest. */
export function watcher(operator: OperatorConfig, source = fs.readFileSync(WATCHER_SOURCE, "utf8")): Manifest[] {
  const { namespace } = operator;
  const account = { name: WATCHER, namespace };
  const config = JSON.stringify(watcherConfig(operator));
  const checksum = createHash("sha256").update(source).update(config).digest("hex").slice(0, 16);
  return [
    serviceAccount(namespace, WATCHER),
    // A template, bound in the served namespaces only.
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: WATCHER, labels: labels(WATCHER) }, rules: watcherRules() },
    ...servedNamespaces(operator).map((served) => binding("RoleBinding", WATCHER, served, { kind: "ClusterRole", name: WATCHER }, account)),
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: WATCHER, namespace, labels: labels(WATCHER) },
      rules: [{ apiGroups: ["pulumi.com"], resources: ["stacks"], resourceNames: stackNames(operator), verbs: ["get", "patch"] }],
    },
    binding("RoleBinding", WATCHER, namespace, { kind: "Role", name: WATCHER }, account),
    ...watcherGuard(operator),
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: WATCHER, namespace, labels: labels(WATCHER) }, data: { "watcher.js": source } },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: WATCHER, namespace, labels: labels(WATCHER) },
      spec: {
        replicas: 1,
        // Two watchers at once would trigger twice.
        strategy: { type: "Recreate" },
        selector: { matchLabels: { "app.kubernetes.io/name": WATCHER } },
        template: {
          metadata: { labels: labels(WATCHER), annotations: { "crdstack/checksum": checksum } },
          spec: {
            serviceAccountName: WATCHER,
            securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, ...RUNTIME_DEFAULT_SECCOMP },
            containers: [{
              name: "watcher",
              image: operator.watcher.image,
              command: ["node", "/opt/crdstack/watcher.js"],
              env: [{ name: "WATCHER_CONFIG", value: config }],
              volumeMounts: [{ name: "code", mountPath: "/opt/crdstack", readOnly: true }],
              resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } },
              securityContext: { ...RESTRICTED_CONTAINER, readOnlyRootFilesystem: true },
            }],
            volumes: [{ name: "code", configMap: { name: WATCHER } }],
          },
        },
      },
    },
  ];
}

export function namespace(operator: OperatorConfig): Manifest {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name: operator.namespace, labels: labels("crdstack") } };
}

/** Every companion object `render --operator` prints, in dependency order (without the operator's chart). */
export function operatorManifests(operator: OperatorConfig): Manifest[] {
  return [namespace(operator), ...workspaceRbac(operator), ...stacks(operator), ...watcher(operator)];
}
