// The pull-request flow under the real engine: scripts/pull-request.sh, which the workflow runs, against
// a stack whose state is the main branch's.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { load } from "js-yaml";
import { Cluster, freshNamespace, useCluster } from "../cluster/cluster";
import { newStack, PROJECT_ROOT, PulumiStack } from "./pulumi";
import { changedObjects, easyService, SpecFolder, trackingServer } from "./specs";

const NS = "gitops";
const SCRIPT = "scripts/pull-request.sh";
let c: Cluster;
let stack: PulumiStack;
const specs = new SpecFolder();
const main = [trackingServer(NS, "store", {}), easyService(NS, "web", { size: 1, image: "nginx:1.25", ports: [{ name: "http", port: 80 }] })];

before(async () => {
  c = await useCluster();
  await freshNamespace(c, NS);
  specs.write(main);
  stack = await newStack(c.toolchain, { config: { specs: specs.dir }, kubeconfig: c.kubeconfig });
  await stack.up();
});

after(async () => {
  await stack?.destroy();
  await stack?.remove();
  specs.remove();
});

/** Runs the script as the workflow does, with the stack's backend and config. */
function pullRequest() {
  return stack.exec("bash", [SCRIPT, specs.dir, ...stack.stackOptions], true, { PREVIEW_FILE: path.join(stack.folder, "preview.txt") });
}

/**
 * `<Kind> <namespace>/<name>` of every Kubernetes object the preview (`--diff` text) changes: each is a
 * line `~ kubernetes:<group/version>:<Kind>: (update)` followed by its `[urn=…::<namespace>/<name>]`.
 */
function previewedChanges(text: string): string[] {
  const steps = text.matchAll(/[-+~]{1,2} ?kubernetes:\S*:(\w+): \(([\w-]+)\)\s*\n(?:\s*\[id=[^\]]*\]\s*\n)?\s*\[urn=[^\]]*::([^\]]+)\]/g);
  return [...steps].map(([, kind, , name]) => `${kind} ${name}`).sort();
}

describe("pull requests under the real engine", () => {
  test("a changed spec folder gives a preview of exactly the changed objects", async () => {
    const before = specs.render();
    specs.write([main[0], easyService(NS, "web", { size: 3, image: "nginx:1.25", ports: [{ name: "http", port: 80 }] })]);
    const result = await pullRequest();
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.deepEqual(previewedChanges(result.stdout), changedObjects(before, specs.render()));
    assert.deepEqual(previewedChanges(result.stdout), ["Deployment gitops/web", "EasyService gitops/web"]);
  });

  test("an invalid spec fails with its problem lines, before any preview", async () => {
    specs.write([main[0], easyService(NS, "web", { size: -1, image: "nginx:1.25" })]);
    const result = await pullRequest();
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, new RegExp(`EasyService ${NS}/web: spec.size: -1 is outside 0-1000`));
    assert.doesNotMatch(result.stdout, /Previewing/);
  });

  test("the workflow runs that script and posts its preview", () => {
    const workflow = load(fs.readFileSync(path.join(PROJECT_ROOT, ".github", "workflows", "pull-request.yml"), "utf8")) as any;
    const steps = workflow.jobs.preview.steps as { run?: string; uses?: string }[];
    const script = steps.findIndex((step) => step.run?.includes(`bash ${SCRIPT} `));
    assert.ok(script >= 0, "a step runs the script");
    assert.ok(steps.slice(script + 1).some((step) => /preview.txt[^]*gh pr comment/.test(step.run ?? "")), "a later step comments the preview");
  });
});
