// The stack's `crdstack:*` configuration, validated like a spec so a typo names the key.
import { z } from "zod";
import { DNS_LABEL, DNS_SUBDOMAIN, imageReference, issueMessage, matching } from "./common";
import { formatPath } from "./objects";
import { OperatorConfig } from "./operator";

export const DEFAULT_MLFLOW_IMAGE = "ghcr.io/mlflow/mlflow:v3.1.1";

export const StackConfig = z.strictObject({
  /** Where specs come from: `files` (YAML in the repo) or `cluster` (custom resources in the cluster). @default files */
  source: z.enum(["files", "cluster"]).default("files"),
  /** File or folder of custom-resource YAML for the `files` source, relative to the project. @default examples */
  specs: z.string().min(1).default("examples"),
  /** Namespaces the `cluster` source reads; empty reads all. @default all */
  namespaces: z.array(matching(DNS_LABEL, "a namespace name")).default([]),
  /** Whether this stack installs the two CRDs. @default true */
  installCrds: z.boolean().default(true),
  /** IngressClass for TrackingServer Ingresses. @default the cluster's default class */
  ingressClassName: matching(DNS_SUBDOMAIN, "an IngressClass name", 253).optional(),
  /** Image for TrackingServers that set none. @default ghcr.io/mlflow/mlflow:v3.1.1 */
  defaultMlflowImage: imageReference.default(DEFAULT_MLFLOW_IMAGE),
  /** Makes this a bootstrap stack that installs crdstack in the cluster instead of reconciling specs. */
  operator: OperatorConfig.optional(),
});
export type StackConfig = z.infer<typeof StackConfig>;

/** Validates raw config values; the error names every bad key as `crdstack:<key>`. */
export function parseStackConfig(raw: Record<string, unknown>): StackConfig {
  const result = StackConfig.safeParse(raw, { reportInput: true, error: issueMessage });
  if (result.success) return result.data;
  const lines = result.error.issues.flatMap((issue) =>
    (issue.code === "unrecognized_keys" ? issue.keys.map((key) => [key]) : [issue.path]).map(
      (path) => `crdstack:${formatPath(path)}: ${issue.code === "unrecognized_keys" ? "is not a known key" : issue.message}`,
    ),
  );
  throw new Error(`Invalid stack configuration:\n  ${lines.join("\n  ")}`);
}
