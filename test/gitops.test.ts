// The pull-request workflow does what the README promises: validate the specs, run the tests, post a
// preview (the preview script itself is run against a real stack in test/engine/gitops.test.ts).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { load } from "js-yaml";
import { ROOT } from "./helpers";

test("the pull-request workflow validates the specs, runs the tests, then previews and comments", () => {
  const workflow = load(fs.readFileSync(path.join(ROOT, ".github", "workflows", "pull-request.yml"), "utf8")) as any;
  assert.ok("pull_request" in workflow.on);
  const steps = Object.values(workflow.jobs).flatMap((job: any) => job.steps) as any[];
  const runs = steps.map((step) => step.run ?? "").join("\n");
  assert.match(runs, /npm run validate -- /);
  assert.match(runs, /^npm test$/m);
  assert.match(runs, /^bash scripts\/pull-request.sh /m);
  assert.match(runs, /gh pr comment "\$PR" --body-file comment.md/);
  assert.deepEqual(workflow.jobs.preview.needs, "validate-and-test");
  assert.equal(workflow.permissions["pull-requests"], "write");
});
