// The pull-request workflow does what the README promises: validate the specs, run the tests, post a preview.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { load } from "js-yaml";
import { ROOT } from "./helpers";

test("the pull-request workflow validates the specs, runs the tests and comments a pulumi preview", () => {
  const workflow = load(fs.readFileSync(path.join(ROOT, ".github", "workflows", "pull-request.yml"), "utf8")) as any;
  assert.ok("pull_request" in workflow.on);
  const steps = Object.values(workflow.jobs).flatMap((job: any) => job.steps) as any[];
  const runs = steps.map((step) => step.run ?? "").join("\n");
  assert.match(runs, /npm run validate -- /);
  assert.match(runs, /^npm test$/m);
  const preview = steps.find((step) => String(step.uses).startsWith("pulumi/actions@"));
  assert.equal(preview.with.command, "preview");
  assert.equal(preview.with["comment-on-pr"], true);
  assert.deepEqual(workflow.jobs.preview.needs, "validate-and-test");
  assert.equal(workflow.permissions["pull-requests"], "write");
});
