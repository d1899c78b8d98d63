// An object's readiness as the API server holds it now: its Deployment (same name, same namespace) and,
// when that is not ready, one of its pods for a short reason. Read by the status provider when it writes
// and when it diffs, so a status says what runs, not what Pulumi's state recorded at the last apply.
//
// Called from a dynamic provider: see providers/status.ts for what that asks of this module.
import type { LiveReadiness, PendingCondition, ReplicaCounts } from "../builders/conditions";

/** The fields of a Deployment the readiness depends on (apps/v1). */
export interface DeploymentView {
  metadata: { name: string; namespace?: string; generation?: number };
  spec?: { replicas?: number; selector?: { matchLabels?: Record<string, string> } };
  status?: ReplicaCounts & { observedGeneration?: number; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

interface ContainerState { waiting?: { reason?: string; message?: string }; terminated?: { reason?: string; exitCode?: number } }

/** The fields of a pod its reason comes from (v1). */
export interface PodView {
  metadata: { name: string };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: { name: string; ready: boolean; state?: ContainerState }[];
  };
}

/** The two reads; the API server's, or a test double. A missing object reads as `undefined`. */
export interface LiveApi {
  readDeployment(namespace: string, name: string): Promise<DeploymentView | undefined>;
  /** At most one pod matching the labels. */
  firstPod(namespace: string, labels: Record<string, string>): Promise<PodView | undefined>;
}

const REPLICA_KEYS = ["replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"] as const;
const clip = (text: string, length = 200) => (text.length > length ? `${text.slice(0, length - 1)}…` : text);

/** Why a pod is not ready, in a few words: `pod x: container mlflow waiting: ImagePullBackOff`. */
export function podReason(pod: PodView | undefined): string | undefined {
  if (pod === undefined) return undefined;
  const name = pod.metadata.name;
  const status = pod.status ?? {};
  const unscheduled = status.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
  if (unscheduled !== undefined) return clip(`pod ${name} is not scheduled: ${unscheduled.message ?? unscheduled.reason ?? "unschedulable"}`);
  const container = status.containerStatuses?.find((c) => !c.ready);
  if (container === undefined) return status.phase === "Running" || status.phase === undefined ? undefined : `pod ${name} is ${status.phase}`;
  const { waiting, terminated } = container.state ?? {};
  if (waiting?.reason) return clip(`pod ${name}: container ${container.name} waiting: ${waiting.reason}${waiting.message ? ` (${waiting.message})` : ""}`);
  if (terminated !== undefined) return clip(`pod ${name}: container ${container.name} terminated: ${terminated.reason ?? `exit code ${terminated.exitCode}`}`);
  return `pod ${name}: container ${container.name} not ready`;
}

/** Whether the Deployment runs every replica of its current generation, ready and available. */
export function isReady(deployment: DeploymentView): boolean {
  const wanted = deployment.spec?.replicas ?? 1;
  const status = deployment.status ?? {};
  if ((status.observedGeneration ?? 0) < (deployment.metadata.generation ?? 0)) return false;
  return (status.updatedReplicas ?? 0) >= wanted && (status.readyReplicas ?? 0) >= wanted && (status.availableReplicas ?? 0) >= wanted && (status.replicas ?? 0) <= wanted;
}

/**
 * The Ready condition from the Deployment and, when it is not ready, one of its pods: `Available`, or
 * `Progressing` (a rollout under way: the controller has not seen the new generation, or not every
 * replica is updated), `NotReady` (every replica is updated, some are not ready), `ProgressDeadlineExceeded`.
 */
export function readinessOf(deployment: DeploymentView | undefined, pod: PodView | undefined, where: string): LiveReadiness {
  if (deployment === undefined) {
    return { ready: { type: "Ready", status: "Unknown", reason: "Reconciling", message: `Deployment ${where} does not exist yet` } };
  }
  const status = deployment.status ?? {};
  const counts: ReplicaCounts = Object.fromEntries(REPLICA_KEYS.filter((key) => status[key] !== undefined).map((key) => [key, status[key]]));
  const wanted = deployment.spec?.replicas ?? 1;
  const ready = status.readyReplicas ?? 0;
  const summary = `${ready}/${wanted} replicas ready`;
  if (isReady(deployment)) return { ready: condition("True", "Available", summary), counts };
  const why = podReason(pod);
  const detail = why === undefined ? "" : `: ${why}`;
  const deadline = status.conditions?.find((c) => c.type === "Progressing" && c.reason === "ProgressDeadlineExceeded");
  if (deadline !== undefined) return { ready: condition("False", "ProgressDeadlineExceeded", `${summary}; ${deadline.message ?? "the rollout made no progress"}${detail}`), counts };
  if ((status.observedGeneration ?? 0) < (deployment.metadata.generation ?? 0)) {
    return { ready: condition("False", "Progressing", `${summary}; the Deployment controller has not seen generation ${deployment.metadata.generation} yet`), counts };
  }
  const rolling = (status.updatedReplicas ?? 0) < wanted || (status.replicas ?? 0) > wanted;
  const rollout = rolling ? `, ${status.updatedReplicas ?? 0}/${wanted} updated` : "";
  return { ready: condition("False", rolling ? "Progressing" : "NotReady", `${summary}${rollout}${detail}`), counts };
}

function condition(status: PendingCondition["status"], reason: string, message: string): PendingCondition {
  return { type: "Ready", status, reason, message };
}

const httpCode = (error: unknown) => (error as { code?: number }).code;

/** Reads the Deployment `namespace/name` (and, when it is not ready, one pod) and derives its readiness. */
export async function readReadiness(api: LiveApi, namespace: string, name: string): Promise<LiveReadiness> {
  const where = `${namespace}/${name}`;
  try {
    const deployment = await api.readDeployment(namespace, name);
    const labels = deployment?.spec?.selector?.matchLabels;
    const pod = deployment === undefined || isReady(deployment) || labels === undefined ? undefined : await api.firstPod(namespace, labels);
    return readinessOf(deployment, pod, where);
  } catch (error) {
    const code = httpCode(error);
    const message = `Cannot read Deployment ${where}${code === undefined ? "" : ` (HTTP ${code})`}: ${clip((error as Error).message ?? String(error))}`;
    return { ready: { type: "Ready", status: "Unknown", reason: "ReadFailed", message } };
  }
}

/** The reads through the API client of the kubeconfig (KUBECONFIG, ~/.kube/config) or the pod's service account. */
export function defaultLiveApi(): LiveApi {
  const k8s = require("@kubernetes/client-node") as typeof import("@kubernetes/client-node");
  const config = new k8s.KubeConfig();
  config.loadFromDefault();
  return liveApiFrom(config);
}

/** The reads through the API client of `config`. */
export function liveApiFrom(config: import("@kubernetes/client-node").KubeConfig): LiveApi {
  const k8s = require("@kubernetes/client-node") as typeof import("@kubernetes/client-node");
  const apps = config.makeApiClient(k8s.AppsV1Api);
  const core = config.makeApiClient(k8s.CoreV1Api);
  const missing = (error: unknown) => {
    if ((error as { code?: number }).code === 404) return undefined;
    throw error;
  };
  return {
    readDeployment: (namespace, name) => apps.readNamespacedDeployment({ namespace, name }).then((d) => d as DeploymentView, missing),
    firstPod: async (namespace, labels) => {
      const labelSelector = Object.entries(labels).map(([key, value]) => `${key}=${value}`).join(",");
      const list = await core.listNamespacedPod({ namespace, labelSelector, limit: 1 });
      return list.items[0] as PodView | undefined;
    },
  };
}
