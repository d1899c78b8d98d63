// A Pulumi dynamic provider that fails the run when the spec files have problems, once everything it
// depends on (every component and the status report) is applied: the valid objects are not held back
// by the invalid ones, and whoever ran `pulumi up` sees the run fail. A logged error alone does not
// fail a Pulumi run.
import * as pulumi from "@pulumi/pulumi";

export interface SpecProblemsArgs {
  /** The problem lines; the resource fails to apply while there are any. */
  problems: string[];
}

interface ProviderInputs { problems: string[] }

/** The error a run with problems ends with. */
function problemsError(problems: readonly string[]): Error {
  return new Error(`${problems.length} object(s) in the specs have problems; the others were applied:\n${problems.join("\n")}`);
}

export const problemsProvider: pulumi.dynamic.ResourceProvider = {
  // While there are problems every run tries again, so every run fails until they are fixed.
  async diff(_id: string, olds: ProviderInputs, news: ProviderInputs) {
    return { changes: news.problems.length > 0 || olds.problems.length > 0, replaces: [], deleteBeforeReplace: false };
  },

  async create(inputs: ProviderInputs) {
    if (inputs.problems.length > 0) throw problemsError(inputs.problems);
    return { id: "problems", outs: inputs };
  },

  async update(_id: string, _olds: ProviderInputs, news: ProviderInputs) {
    if (news.problems.length > 0) throw problemsError(news.problems);
    return { outs: news };
  },

  async delete() {},
};

/** Fails `pulumi up` while the spec files have problems, after the resources in `dependsOn` are applied. */
export class SpecProblems extends pulumi.dynamic.Resource {
  constructor(name: string, args: SpecProblemsArgs, opts?: pulumi.CustomResourceOptions) {
    super(problemsProvider, name, { problems: args.problems }, opts, "crdstack", "SpecProblems");
  }
}
