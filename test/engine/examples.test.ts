// The real engine on examples/: `pulumi up` creates exactly what `render` prints, a second run has
// nothing to do, and `pulumi destroy` removes everything but the CRDs.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { loadAll } from "js-yaml";
import { run as cli } from "../../cli/main";
import { Cluster, eventually, KubeObject, readObject, useCluster } from "../cluster/cluster";
import { differences } from "./compare";
import { newStack, PulumiStack, stepObject } from "./pulumi";
import { key } from "./specs";

let c: Cluster;
let stack: PulumiStack;
let rendered: KubeObject[];

before(async () => {
  c = await useCluster();
  const render = cli(["render", "--show-secrets", "examples"]);
  assert.equal(render.code, 0, render.stderr);
  rendered = (loadAll(render.stdout) as KubeObject[]).filter(Boolean);
  stack = await newStack(c.toolchain, { config: { specs: "examples" }, kubeconfig: c.kubeconfig });
});

after(() => stack?.remove());

const describeObject = (o: KubeObject) => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`;

describe("examples/ under the real engine", () => {
  test("pulumi preview lists every object render prints, to be created", async () => {
    const steps = (await stack.plan()).filter((step) => step.type.startsWith("kubernetes:"));
    assert.deepEqual(steps.map((step) => `${step.op} ${stepObject(step)}`).sort(), rendered.map((o) => `create ${key(o)}`).sort());
  });

  test("pulumi up creates exactly the objects render prints, field for field", async () => {
    await stack.up();
    const problems: string[] = [];
    for (const expected of rendered) {
      const actual = await readObject(c, expected);
      if (actual === undefined) problems.push(`${describeObject(expected)}: missing`);
      else problems.push(...differences(expected, actual).map((line) => `${describeObject(expected)}: ${line}`));
    }
    assert.deepEqual(problems, []);
  });

  test("a second run changes nothing", async () => {
    // The first run did not wait for pods: once the examples' Deployments have rolled out, the next run
    // (the watcher's, in the cluster) writes their Ready status, and then there is nothing left to do.
    for (const deployment of rendered.filter((o) => o.kind === "Deployment")) {
      await eventually(`${describeObject(deployment)} rolled out`, async () => {
        const now = await readObject(c, deployment);
        const wanted = now?.spec.replicas ?? 1;
        return now?.status?.observedGeneration === now?.metadata.generation && now?.status?.readyReplicas === wanted && now?.status?.updatedReplicas === wanted ? true : undefined;
      }, 60_000);
    }
    await stack.up();
    await stack.preview("--expect-no-changes");
  });

  test("pulumi destroy removes every object but the CRDs, which stay for custom resources elsewhere", async () => {
    await stack.destroy();
    const left: string[] = [];
    for (const object of rendered) if ((await readObject(c, object)) !== undefined) left.push(describeObject(object));
    assert.deepEqual(left, rendered.filter((o) => o.kind === "CustomResourceDefinition").map(describeObject));
  });
});
