// `crdstack:operator`: the in-cluster set-up a bootstrap stack installs (see components/Operator.ts).
import { z } from "zod";
import { DNS_LABEL, ENV_VAR_NAME, DNS_SUBDOMAIN, imageReference, matching, wholeNumber } from "./common";

const label = matching(DNS_LABEL, "a DNS label (lowercase letters, digits and '-')", 63);

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
  /** One Stack per shard, each limited to its namespaces; none: one Stack for all namespaces. */
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
    /** A stock Node.js image (the code is mounted from a ConfigMap). @default node:20-alpine */
    image: imageReference.default("node:20-alpine"),
  }).default({ debounceMs: 250, image: "node:20-alpine" }),
}).superRefine((operator, ctx) => {
  const seen = new Map<string, string>();
  operator.shards.forEach((shard, i) => {
    shard.namespaces.forEach((namespace, j) => {
      const owner = seen.get(namespace);
      if (owner !== undefined) ctx.addIssue({ code: "custom", path: ["shards", i, "namespaces", j], message: `${JSON.stringify(namespace)} is already in shard ${JSON.stringify(owner)}` });
      seen.set(namespace, shard.name);
    });
  });
  const reserved = ["crdstack:source", "crdstack:namespaces", "crdstack:installCrds", "crdstack:operator"];
  for (const key of Object.keys(operator.config)) {
    const full = key.startsWith("crdstack:") ? key : `crdstack:${key}`;
    if (reserved.includes(full)) ctx.addIssue({ code: "custom", path: ["config", key], message: "is set by crdstack for the in-cluster stacks" });
  }
});
export type OperatorConfig = z.infer<typeof OperatorConfig>;
