// `crdstack:operator`: the in-cluster set-up a bootstrap stack installs (see components/Operator.ts).
import { z } from "zod";
import { DNS_LABEL, ENV_VAR_NAME, DNS_SUBDOMAIN, IMAGE_REFERENCE, labels, matching, qualifiedName, quote, wholeNumber } from "./common";

const label = matching(DNS_LABEL, "a DNS label (lowercase letters, digits and '-')", 63);

/** Namespaces crdstack never serves, besides its own: the cluster's. */
export const SYSTEM_NAMESPACES = ["kube-system", "kube-public", "kube-node-lease"];

/**
 * The digest of `docker.io/library/node:20-alpine` as Docker Hub served it, found with a code search of
 * public repositories (a Dockerfile pinning `node:20-alpine@sha256:fb4cd12c…`, and a buildx log that
 * resolved the tag `docker.io/library/node:20-alpine` to the same digest). Not checked against the
 * registry from here: refresh it with `crane digest node:20-alpine` (or `docker buildx imagetools inspect`).
 */
export const DEFAULT_WATCHER_IMAGE = "node:20-alpine@sha256:fb4cd12c85ee03686f6af5362a0b0d56d50c58a04632e6c0fb8363f609372293";

/** An image pinned by digest: a tag can be moved to other code, a digest cannot. */
const pinnedImage = z.string().refine((image) => IMAGE_REFERENCE.test(image) && /^[^@]+@sha256:[a-f0-9]{64}$/.test(image), {
  error: (issue) => `${quote(issue.input)} is not an image pinned by digest (<name>@sha256:<64 hex digits>): a tag can be moved to other code`,
});

const SelectorRequirement = z.strictObject({
  key: qualifiedName("a label key ([prefix/]name of letters, digits, '-', '_' and '.')"),
  operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]),
  values: z.array(matching(/^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/, "a label value (up to 63 letters, digits, '-', '_' and '.', a letter or digit at each end)")).optional(),
}).superRefine((requirement, ctx) => {
  const needsValues = requirement.operator === "In" || requirement.operator === "NotIn";
  if (needsValues && (requirement.values ?? []).length === 0) ctx.addIssue({ code: "custom", path: ["values"], message: `${requirement.operator} needs at least one value` });
  if (!needsValues && requirement.values !== undefined) ctx.addIssue({ code: "custom", path: ["values"], message: `${requirement.operator} takes no values` });
});

/**
 * A label selector of namespaces, as in Kubernetes.
 * https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
 */
const NamespaceSelector = z.strictObject({
  matchLabels: labels.optional(),
  matchExpressions: z.array(SelectorRequirement).optional(),
}).refine((selector) => Object.keys(selector.matchLabels ?? {}).length + (selector.matchExpressions ?? []).length > 0, {
  error: "an empty selector selects every namespace: name labels in matchLabels or matchExpressions",
});
export type NamespaceSelector = z.infer<typeof NamespaceSelector>;

/** The selector in the API's `labelSelector` query form (`team=a,tier in (x,y),!legacy`). */
export function selectorQuery(selector: NamespaceSelector): string {
  const terms = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`);
  for (const { key, operator, values } of selector.matchExpressions ?? []) {
    if (operator === "Exists") terms.push(key);
    else if (operator === "DoesNotExist") terms.push(`!${key}`);
    else terms.push(`${key} ${operator === "In" ? "in" : "notin"} (${(values ?? []).join(",")})`);
  }
  return terms.join(",");
}

/** A key of a Secret in the operator's namespace, for an environment variable of the stack's workspace. */
const SecretKeyRef = z.strictObject({ secret: matching(DNS_SUBDOMAIN, "a Secret name", 253), key: matching(/^[-._a-zA-Z0-9]+$/, "a key name", 253) });

export const OperatorConfig = z.strictObject({
  /** Namespace of the Stacks, their workspace and the watcher. @default crdstack-system */
  namespace: label.default("crdstack-system"),
  /** Also install the Pulumi Kubernetes Operator (its Helm chart), for clusters that lack it. @default false */
  installOperator: z.boolean().default(false),
  /** Version of the operator's Helm chart when `installOperator` is set; its Stack CRD is the one our Stacks are tested against. @default 2.9.0 */
  operatorChartVersion: z.string().min(1).default("2.9.0"),
  /** Git repository of this project, which the operator runs. */
  repo: z.string().regex(/^(https?:\/\/|ssh:\/\/|git@)\S+$/, { error: (issue) => `${JSON.stringify(issue.input)} is not a git URL (https://, ssh:// or git@)` }),
  /** Branch to run. @default main */
  branch: z.string().min(1).default("main"),
  /** Folder of Pulumi.yaml in the repository. @default the root */
  repoDir: z.string().min(1).optional(),
  /** Name of the in-cluster Pulumi stack; with shards, `<stack>-<shard>`. @default cluster */
  stack: matching(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+){0,2}$/, "a Pulumi stack name", 100).default("cluster"),
  /** Pulumi backend URL (s3://…, https://api.pulumi.com, …). @default Pulumi Cloud */
  backend: z.string().min(1).optional(),
  /** Secrets provider of the in-cluster stacks (awskms://…, passphrase, …). @default the backend's */
  secretsProvider: z.string().min(1).optional(),
  /** Environment of the workspace from Secrets in `namespace`, e.g. PULUMI_ACCESS_TOKEN, PULUMI_CONFIG_PASSPHRASE. */
  env: z.record(matching(ENV_VAR_NAME, "an environment variable name"), SecretKeyRef).default({}),
  /** Safety-net resync; the operator treats less than 60 as 60, so less is refused. @default 300 */
  resyncFrequencySeconds: wholeNumber(60, 86400).default(300),
  /** More `crdstack:*` settings for the in-cluster stacks (e.g. ingressClassName). */
  config: z.record(z.string(), z.string()).default({}),
  /**
   * Without shards: the namespaces the one Stack serves. The workspace and the watcher get rights in
   * these only. Set this or `namespaceSelector`.
   */
  namespaces: z.array(label).min(1).optional(),
  /**
   * Without shards: the namespaces the one Stack serves, by label. Resolved when the bootstrap stack (or
   * `render --operator`) runs, with the caller's kubeconfig; a namespace labelled later is served after
   * the bootstrap stack runs again. The cluster's own namespaces and `namespace` are left out.
   */
  namespaceSelector: NamespaceSelector.optional(),
  /** One Stack per shard, each limited to its namespaces; none: one Stack for `namespaces` or `namespaceSelector`. */
  // A Stack is named crdstack-<shard>, and the operator allows Stack names of at most 42 characters.
  shards: z.array(z.strictObject({ name: matching(DNS_LABEL, "a DNS label (lowercase letters, digits and '-')", 33), namespaces: z.array(label).min(1) })).default([]),
  /**
   * The in-cluster program may release the original Go controllers' finalizer and annotation when it
   * takes their objects over: `patch` on the custom resources, limited by a ValidatingAdmissionPolicy
   * to that release (Kubernetes 1.30 on). Set it while moving from the controllers, then remove it.
   * @default false
   */
  takeover: z.boolean().default(false),
  watcher: z.strictObject({
    /** How long the watcher waits for more changes before it triggers. @default 250 */
    debounceMs: wholeNumber(0, 60_000).default(250),
    /** A stock Node.js image, pinned by digest (the code is mounted from a ConfigMap). @default node:20-alpine at a fixed digest */
    image: pinnedImage.default(DEFAULT_WATCHER_IMAGE),
  }).default({ debounceMs: 250, image: DEFAULT_WATCHER_IMAGE }),
}).superRefine((operator, ctx) => {
  const reserved = [...SYSTEM_NAMESPACES, operator.namespace];
  const why = `crdstack serves no tenant in ${SYSTEM_NAMESPACES.join(", ")} or its own namespace ${JSON.stringify(operator.namespace)}`;
  const checkReserved = (namespace: string, path: (string | number)[]) => {
    if (reserved.includes(namespace)) ctx.addIssue({ code: "custom", path, message: `${JSON.stringify(namespace)} is not allowed: ${why}` });
  };
  const seen = new Map<string, string>();
  operator.shards.forEach((shard, i) => {
    shard.namespaces.forEach((namespace, j) => {
      checkReserved(namespace, ["shards", i, "namespaces", j]);
      const owner = seen.get(namespace);
      if (owner !== undefined) ctx.addIssue({ code: "custom", path: ["shards", i, "namespaces", j], message: `${JSON.stringify(namespace)} is already in shard ${JSON.stringify(owner)}` });
      seen.set(namespace, shard.name);
    });
  });
  (operator.namespaces ?? []).forEach((namespace, j) => {
    checkReserved(namespace, ["namespaces", j]);
    if (operator.namespaces!.indexOf(namespace) < j) ctx.addIssue({ code: "custom", path: ["namespaces", j], message: `${JSON.stringify(namespace)} is listed twice` });
  });
  const given = [operator.namespaces === undefined ? undefined : "namespaces", operator.namespaceSelector === undefined ? undefined : "namespaceSelector"].filter((key) => key !== undefined);
  if (operator.shards.length > 0) {
    for (const key of given) ctx.addIssue({ code: "custom", path: [key], message: "is for the Stack without shards: with shards, each shard lists its namespaces" });
  } else if (given.length === 0) {
    ctx.addIssue({ code: "custom", path: ["namespaces"], message: "is required (or namespaceSelector): the workspace and the watcher get rights only in the namespaces they serve, never cluster-wide" });
  } else if (given.length === 2) {
    ctx.addIssue({ code: "custom", path: ["namespaceSelector"], message: "set namespaces or namespaceSelector, not both" });
  }
  const reservedKeys = ["crdstack:source", "crdstack:namespaces", "crdstack:installCrds", "crdstack:operator"];
  for (const key of Object.keys(operator.config)) {
    const full = key.startsWith("crdstack:") ? key : `crdstack:${key}`;
    if (reservedKeys.includes(full)) ctx.addIssue({ code: "custom", path: ["config", key], message: "is set by crdstack for the in-cluster stacks" });
  }
});
export type OperatorConfig = z.infer<typeof OperatorConfig>;
