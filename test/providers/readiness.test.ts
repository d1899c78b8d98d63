// The Ready condition derived from a Deployment and one of its pods: pure, no cluster (the reads against
// the API server are in test/cluster/status.test.ts).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DeploymentView, podReason, PodView, readinessOf } from "../../providers/readiness";

const deployment = (status: DeploymentView["status"], replicas = 1, generation = 1): DeploymentView => ({
  metadata: { name: "web", namespace: "team", generation },
  spec: { replicas, selector: { matchLabels: { app: "web" } } },
  status,
});
const pod = (status: PodView["status"]): PodView => ({ metadata: { name: "web-abc-123" }, status });
const ready = (d: DeploymentView | undefined, p?: PodView) => readinessOf(d, p, "team/web").ready;

describe("readiness of a Deployment", () => {
  test("every replica updated, ready and available: Available, with the counts", () => {
    const reading = readinessOf(deployment({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 }, 2), undefined, "team/web");
    assert.deepEqual(reading, { ready: { type: "Ready", status: "True", reason: "Available", message: "2/2 replicas ready" }, counts: { replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 } });
    assert.equal(ready(deployment({ observedGeneration: 1 }, 0)).status, "True", "zero replicas wanted, zero ready");
  });

  test("no Deployment yet: Unknown, Reconciling", () => {
    assert.deepEqual(ready(undefined), { type: "Ready", status: "Unknown", reason: "Reconciling", message: "Deployment team/web does not exist yet" });
  });

  test("a generation the controller has not seen: Progressing, even with ready replicas", () => {
    const condition = ready(deployment({ observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 }, 1, 2));
    assert.deepEqual([condition.status, condition.reason, condition.message], ["False", "Progressing", "1/1 replicas ready; the Deployment controller has not seen generation 2 yet"]);
  });

  test("a rollout under way (old replicas left, new ones not updated): Progressing with the updated count", () => {
    const condition = ready(deployment({ observedGeneration: 1, replicas: 2, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 }), pod({ phase: "Running", containerStatuses: [{ name: "web", ready: true }] }));
    assert.deepEqual([condition.status, condition.reason, condition.message], ["False", "Progressing", "1/1 replicas ready, 1/1 updated"]);
  });

  test("updated but not ready: NotReady with the pod's reason", () => {
    const condition = ready(deployment({ observedGeneration: 1, replicas: 1, updatedReplicas: 1 }), pod({ phase: "Running", containerStatuses: [{ name: "mlflow", ready: false, state: { running: {} } as never }] }));
    assert.deepEqual([condition.status, condition.reason, condition.message], ["False", "NotReady", "0/1 replicas ready: pod web-abc-123: container mlflow not ready"]);
  });

  test("the Deployment's ProgressDeadlineExceeded wins over Progressing", () => {
    const conditions = [{ type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded", message: 'ReplicaSet "web-abc" has timed out progressing.' }];
    const condition = ready(deployment({ observedGeneration: 1, replicas: 1, updatedReplicas: 1, conditions }), pod({ containerStatuses: [{ name: "web", ready: false, state: { waiting: { reason: "ImagePullBackOff", message: "Back-off pulling image" } } }] }));
    assert.deepEqual([condition.reason, condition.message], ["ProgressDeadlineExceeded", '0/1 replicas ready; ReplicaSet "web-abc" has timed out progressing.: pod web-abc-123: container web waiting: ImagePullBackOff (Back-off pulling image)']);
  });
});

describe("a pod's reason", () => {
  test("unscheduled, waiting, terminated, not ready, or nothing to say", () => {
    assert.equal(podReason(pod({ phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/3 nodes are available" }] })), "pod web-abc-123 is not scheduled: 0/3 nodes are available");
    assert.equal(podReason(pod({ containerStatuses: [{ name: "a", ready: true }, { name: "b", ready: false, state: { terminated: { reason: "Error", exitCode: 1 } } }] })), "pod web-abc-123: container b terminated: Error");
    assert.equal(podReason(pod({ phase: "Running", containerStatuses: [{ name: "a", ready: true }] })), undefined);
    assert.equal(podReason(pod({ phase: "Failed" })), "pod web-abc-123 is Failed");
    assert.equal(podReason(undefined), undefined);
    assert.equal(podReason(pod({ containerStatuses: [{ name: "a", ready: false, state: { waiting: { reason: "CrashLoopBackOff", message: "x".repeat(500) } } }] }))!.length, 200);
  });
});
