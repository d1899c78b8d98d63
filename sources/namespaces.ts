// The namespaces a `crdstack:operator.namespaceSelector` selects, read from the cluster with the caller's
// kubeconfig when the bootstrap stack (or `render --operator`) runs. The result becomes the Stack's
// `crdstack:namespaces` and its RoleBindings: a namespace labelled later is served once the bootstrap
// stack runs again.
import type * as k8s from "@kubernetes/client-node";
import { OperatorConfig, selectorQuery, SYSTEM_NAMESPACES } from "../model/operator";
import { clusterConfig, requestJson } from "./cluster";

interface NamespaceMetadata { metadata: { name: string; deletionTimestamp?: string } }

/**
 * Which of the listed namespaces crdstack may serve: not the cluster's own, not the operator's, not
 * one being deleted (a RoleBinding cannot be created there). Sorted, so a re-run plans no change.
 */
export function servableNamespaces(operator: OperatorConfig, listed: readonly NamespaceMetadata[]): string[] {
  const reserved = new Set([...SYSTEM_NAMESPACES, operator.namespace]);
  return listed.filter(({ metadata }) => !reserved.has(metadata.name) && metadata.deletionTimestamp === undefined).map(({ metadata }) => metadata.name).sort();
}

/**
 * The operator config with `namespaceSelector` replaced by the namespaces it selects now; unchanged
 * without a selector. Lists namespaces by metadata only, with the API's label selector.
 */
export async function resolveNamespaces(operator: OperatorConfig, config: k8s.KubeConfig | undefined = clusterConfig()): Promise<OperatorConfig> {
  const selector = operator.namespaceSelector;
  if (selector === undefined) return operator;
  const query = selectorQuery(selector);
  if (config === undefined) throw new Error(`crdstack:operator.namespaceSelector: selecting namespaces (${query}) needs the cluster, and there is no kubeconfig (KUBECONFIG, ~/.kube/config)`);
  let list: { items: NamespaceMetadata[] | null };
  try {
    list = await requestJson(config, `/api/v1/namespaces?labelSelector=${encodeURIComponent(query)}`, { accept: "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1" });
  } catch (error) {
    throw new Error(`crdstack:operator.namespaceSelector: cannot list the namespaces ${query} selects: ${(error as Error).message}`);
  }
  const namespaces = servableNamespaces(operator, list.items ?? []);
  if (namespaces.length === 0) {
    throw new Error(`crdstack:operator.namespaceSelector: ${query} selects no namespace crdstack may serve (${[...SYSTEM_NAMESPACES, operator.namespace].join(", ")} are left out); label a tenant namespace or list them in namespaces`);
  }
  return { ...operator, namespaces, namespaceSelector: undefined };
}
