// A run does not wait for pods (every child has `pulumi.com/skipAwait`), so the status an `up` writes can
// say `Progressing` while a rollout it started goes on, and the next preview shows the status changing.
// `settle` waits for the rollouts, then runs `up` once more: what the watcher's trigger does in the cluster.
import { Cluster, eventually } from "../cluster/cluster";
import { PulumiStack } from "./pulumi";

interface Deployment {
  metadata: { name: string; generation?: number };
  spec: { replicas?: number };
  status?: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; readyReplicas?: number };
}

/** Whether the Deployment's controller has finished its rollout: every replica updated and ready, none left over. */
const rolledOut = ({ metadata, spec, status = {} }: Deployment) => {
  const wanted = spec.replicas ?? 1;
  return status.observedGeneration === metadata.generation && status.updatedReplicas === wanted && (status.readyReplicas ?? 0) === wanted && status.replicas === wanted;
};

/** Waits until every crdstack Deployment of `namespace` whose pods can get ready has rolled out, then runs `up`. */
export async function settle(c: Cluster, stack: PulumiStack, namespace: string, neverReady: readonly string[] = []): Promise<void> {
  await eventually(`the Deployments of ${namespace} rolled out`, async () => {
    const list = await c.request("GET", `/apis/apps/v1/namespaces/${namespace}/deployments?labelSelector=app.kubernetes.io/managed-by%3Dcrdstack`);
    return (list.items as Deployment[]).filter((d) => !neverReady.includes(d.metadata.name)).every(rolledOut) || undefined;
  }, 60_000);
  await stack.up();
}
