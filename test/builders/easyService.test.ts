import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildEasyService } from "../../builders/easyService";
import { parseObject } from "../../model/objects";
import { easyService } from "../helpers";

const podSpec = (children: ReturnType<typeof buildEasyService>) => (children.deployment.spec as any).template.spec;

describe("EasyService", () => {
  test("the original sample: two nginx replicas behind NodePort 31002", () => {
    const children = buildEasyService(easyService({ size: 2, image: "nginx:1.7.9", ports: [{ port: 80, targetPort: 80, nodePort: 31002 }] }, "easyservice-sample"));
    const deployment = children.deployment.spec as any;
    assert.equal(deployment.replicas, 2);
    assert.deepEqual(deployment.selector, { matchLabels: { app: "easyservice-sample" } });
    assert.equal(deployment.template.metadata.labels.app, "easyservice-sample");
    assert.equal(deployment.template.metadata.labels["app.kubernetes.io/instance"], "easyservice-sample");
    assert.deepEqual(deployment.template.spec.containers, [{
      name: "easyservice-sample",
      image: "nginx:1.7.9",
      ports: [{ containerPort: 80, protocol: "TCP" }],
      securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["NET_RAW"] } },
    }]);
    assert.deepEqual(children.service?.spec, {
      type: "NodePort",
      selector: { app: "easyservice-sample" },
      ports: [{ protocol: "TCP", port: 80, targetPort: 80, nodePort: 31002 }],
    });
  });

  test("no ports, no Service", () => {
    const children = buildEasyService(easyService({ size: 1, image: "busybox" }));
    assert.equal(children.service, undefined);
    assert.equal((children.deployment.spec as any).template.spec.containers[0].ports, undefined);
  });

  test("resources and envs reach the container; targetPort decides the container port", () => {
    const children = buildEasyService(easyService({
      size: 1,
      image: "nginx",
      resources: { limits: { cpu: "1" }, requests: { cpu: "100m" } },
      envs: [{ name: "A", value: "1" }, { name: "TOKEN", valueFrom: { secretKeyRef: { name: "tokens", key: "a" } } }],
      ports: [{ name: "http", port: 80, targetPort: 8080 }, { name: "admin", port: 81, targetPort: "admin" }, { name: "dns", port: 53, protocol: "UDP" }],
    }));
    const container = (children.deployment.spec as any).template.spec.containers[0];
    assert.deepEqual(container.resources, { limits: { cpu: "1" }, requests: { cpu: "100m" } });
    assert.deepEqual(container.env[1], { name: "TOKEN", valueFrom: { secretKeyRef: { name: "tokens", key: "a" } } });
    assert.deepEqual(container.ports, [
      { name: "http", containerPort: 8080, protocol: "TCP" },
      { name: "admin", containerPort: 81, protocol: "TCP" },
      { name: "dns", containerPort: 53, protocol: "UDP" },
    ]);
    assert.deepEqual((children.service?.spec as any).ports.map((p: any) => p.targetPort), [8080, "admin", 53]);
  });

  describe("security settings", () => {
    test("without runAsUser the image's user runs, without privilege escalation, raw sockets or system calls outside the runtime's default filter", () => {
      const pod = podSpec(buildEasyService(easyService({ size: 1, image: "nginx:1.7.9" })));
      assert.deepEqual(pod.securityContext, { seccompProfile: { type: "RuntimeDefault" } });
      assert.deepEqual(pod.containers[0].securityContext, { allowPrivilegeEscalation: false, capabilities: { drop: ["NET_RAW"] } });
    });

    test("runAsUser runs the container as that user, never root, with every capability dropped", () => {
      const pod = podSpec(buildEasyService(easyService({ size: 1, image: "nginxinc/nginx-unprivileged:1.27", runAsUser: 101 })));
      assert.deepEqual(pod.securityContext, { runAsNonRoot: true, runAsUser: 101, seccompProfile: { type: "RuntimeDefault" } });
      assert.deepEqual(pod.containers[0].securityContext, { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    });

    test("the pod gets no service-account token, with or without runAsUser", () => {
      for (const spec of [{ size: 1, image: "nginx:1.7.9" }, { size: 1, image: "nginxinc/nginx-unprivileged:1.27", runAsUser: 101 }]) {
        assert.equal(podSpec(buildEasyService(easyService(spec))).automountServiceAccountToken, false, JSON.stringify(spec));
      }
    });

    test("runAsUser is a user id other than root's", () => {
      const problems = (runAsUser: unknown) => {
        const parsed = parseObject({ apiVersion: "app.kubebuilder.io/v1", kind: "EasyService", metadata: { name: "web", namespace: "team-a" }, spec: { size: 1, image: "nginx", runAsUser } });
        return parsed.ok ? [] : parsed.problems.map((p) => `${p.path}: ${p.message}`);
      };
      assert.deepEqual(problems(0), ["spec.runAsUser: 0 is outside 1-2147483647"]);
      assert.deepEqual(problems(2147483648), ["spec.runAsUser: 2147483648 is outside 1-2147483647"]);
      assert.deepEqual(problems(1000.5), ["spec.runAsUser: 1000.5 is not a whole number"]);
      assert.deepEqual(problems(2147483647), []);
    });
  });
});
