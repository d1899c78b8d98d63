// Reading spec files: folders and extensions, Lists, JSON, and where a syntax error is.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { loadAll, YAMLException } from "js-yaml";
import { recordResources } from "../mocks";
const registered = recordResources();
import { run } from "../../cli/main";
import { formatError } from "../../model/specs";
import { loadSpecFiles, specFiles } from "../../sources/files";
import { EXAMPLES } from "../helpers";

const folders: string[] = [];
after(() => {
  for (const folder of folders) fs.rmSync(folder, { recursive: true, force: true });
});

/** A temporary folder with these files (paths relative to it; a path ending in `/` is an empty folder). */
function folderWith(files: Record<string, string>): string {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), "crdstack-files-"));
  folders.push(folder);
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(folder, name);
    if (name.endsWith("/")) {
      fs.mkdirSync(file, { recursive: true });
    } else {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
    }
  }
  return folder;
}

const es = (name: string, namespace = "team") => ({ apiVersion: "app.kubebuilder.io/v1", kind: "EasyService", metadata: { name, namespace }, spec: { size: 1, image: "nginx" } });
const ts = (name: string, namespace = "team") => ({ apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: { name, namespace }, spec: {} });
const esYaml = (name: string) => `apiVersion: app.kubebuilder.io/v1\nkind: EasyService\nmetadata:\n  name: ${name}\nspec:\n  size: 1\n  image: nginx\n`;
const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
const names = (folderOrFiles: string | string[]) => loadSpecFiles([folderOrFiles].flat()).objects.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`);
const lines = (paths: string[]) => loadSpecFiles(paths).errors.map(formatError);

describe("folders and files", () => {
  test("a folder's .yaml, .yml and .json files are read, subfolders included, in name order; other files are not", () => {
    const folder = folderWith({
      "a.yaml": esYaml("a"),
      "b.yml": esYaml("b"),
      "c.json": json(es("c", "default")),
      "sub/d.yaml": esYaml("d"),
      "README.md": "# not a spec\n",
      "notes.txt": esYaml("ignored"),
      "e.yaml.bak": esYaml("ignored-too"),
    });
    assert.deepEqual(names(folder), ["EasyService default/a", "EasyService default/b", "EasyService default/c", "EasyService default/d"]);
    assert.deepEqual(specFiles([folder]).map((file) => path.relative(folder, file)), ["a.yaml", "b.yml", "c.json", path.join("sub", "d.yaml")]);
  });

  test("a file named explicitly is read whatever its extension (as YAML, or as JSON when it ends in .json)", () => {
    const folder = folderWith({ "spec.txt": esYaml("txt"), "noext": json(es("noext")) });
    assert.deepEqual(names([path.join(folder, "spec.txt"), path.join(folder, "noext")]), ["EasyService default/txt", "EasyService team/noext"]);
  });

  test("an empty folder is an error naming it, not zero objects", () => {
    const folder = folderWith({ "empty/": "" });
    const empty = path.join(folder, "empty");
    assert.throws(() => loadSpecFiles([empty]), { message: `${empty}: no .yaml, .yml or .json files` });
  });

  test("a folder whose subfolders and files hold no spec file is an error naming it", () => {
    const folder = folderWith({ "docs/README.md": "# specs go here\n", "more/deeper/": "", "notes.txt": "" });
    assert.throws(() => loadSpecFiles([folder]), { message: `${folder}: no .yaml, .yml or .json files` });
  });

  test("an empty subfolder beside spec files is fine", () => {
    const folder = folderWith({ "a.yaml": esYaml("a"), "later/": "" });
    assert.deepEqual(names(folder), ["EasyService default/a"]);
  });

  test("a file with only comments is fine beside files with objects", () => {
    const folder = folderWith({ "a.yaml": esYaml("a"), "retired.yaml": "# moved to team-b's repository\n", "blank.yml": "" });
    assert.deepEqual(names(folder), ["EasyService default/a"]);
    assert.deepEqual(lines([folder]), []);
  });

  test("a run that finds no object at all is an error naming what it read, not zero objects", () => {
    const folder = folderWith({ "a.yaml": "# nothing yet\n", "b.yaml": "---\n---\n", "c.yaml": "apiVersion: v1\nkind: List\nitems: []\n" });
    assert.throws(() => loadSpecFiles([folder]), { message: `${folder}: no objects in 3 files` });
    const file = path.join(folder, "a.yaml");
    assert.throws(() => loadSpecFiles([file]), { message: `${file}: no objects in 1 file` });
  });

  test("a run whose documents all fail to read reports them, as errors of the documents", () => {
    const folder = folderWith({ "a.yaml": "kind: [unclosed\n" });
    assert.deepEqual(lines([folder]), [`${path.join(folder, "a.yaml")}: document 1: (yaml): unexpected end of the stream within a flow collection at line 2, column 1`]);
  });
});

describe("Lists", () => {
  test("kind: List (kubectl get -o yaml): each item is an object, reported with its own kind, namespace and name", () => {
    const list = `apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: experiment.aiscope/v1alpha2
  kind: TrackingServer
  metadata:
    creationTimestamp: "2026-01-15T10:00:00Z"
    generation: 2
    name: mlflow
    namespace: team
    resourceVersion: "4711"
    uid: 0b6f1c2e-8d1a-4c55-9a7e-2f0d3c1b9e11
  spec:
    size: 1
  status:
    observedGeneration: 2
- apiVersion: app.kubebuilder.io/v1
  kind: EasyService
  metadata:
    name: web
    namespace: team
  spec:
    size: -1
    image: nginx
`;
    const folder = folderWith({ "dump.yaml": list });
    assert.deepEqual(names(folder), ["TrackingServer team/mlflow"]);
    assert.deepEqual(lines([folder]), [`${path.join(folder, "dump.yaml")}: EasyService team/web: spec.size: -1 is outside 0-1000`]);
  });

  test("TrackingServerList and EasyServiceList (what the API server returns) are read the same way, in YAML and JSON", () => {
    const folder = folderWith({
      "ts.yaml": `apiVersion: experiment.aiscope/v1alpha2\nkind: TrackingServerList\nmetadata: {}\nitems:\n${[ts("one"), ts("two")].map((o) => `- ${JSON.stringify(o)}\n`).join("")}`,
      "es.json": json({ apiVersion: "app.kubebuilder.io/v1", kind: "EasyServiceList", metadata: { resourceVersion: "1" }, items: [es("web")] }),
    });
    assert.deepEqual(names(folder), ["EasyService team/web", "TrackingServer team/one", "TrackingServer team/two"]);
  });

  test("a List inside a List is read, beside other documents of the file", () => {
    const inner = { apiVersion: "v1", kind: "List", items: [ts("inner")] };
    const folder = folderWith({ "nested.yaml": `${esYaml("first")}---\n${json({ apiVersion: "v1", kind: "List", items: [es("outer"), inner] })}` });
    assert.deepEqual(names(folder), ["EasyService default/first", "EasyService team/outer", "TrackingServer team/inner"]);
  });

  test("a List whose items is not an array is an error naming the file and document; the file's other documents are read", () => {
    const folder = folderWith({ "lists.yaml": `${esYaml("ok")}---\napiVersion: v1\nkind: List\nitems:\n  name: not-a-list\n---\nkind: EasyServiceList\nitems: "none"\n---\nkind: List\n` });
    const file = path.join(folder, "lists.yaml");
    assert.deepEqual(names(folder), ["EasyService default/ok"]);
    assert.deepEqual(lines([folder]), [
      `${file}: document 2: items: an object is not an array`,
      `${file}: document 3: items: "none" is not an array`,
      `${file}: document 4: items: is required`,
    ]);
  });

  test("an item that is not an object, and a bad List inside a List, name their place in the document", () => {
    const folder = folderWith({ "items.json": json({ apiVersion: "v1", kind: "List", items: [es("ok"), 5, null, { kind: "List", items: { a: 1 } }] }) });
    const file = path.join(folder, "items.json");
    assert.deepEqual(names(folder), ["EasyService team/ok"]);
    assert.deepEqual(lines([folder]), [
      `${file}: document 1: items[1]: 5 is not an object`,
      `${file}: document 1: items[2]: null is not an object`,
      `${file}: document 1: items[3].items: an object is not an array`,
    ]);
  });
});

describe("YAML syntax errors", () => {
  /** Where js-yaml, reading the whole file, stops (it stops at the first error). */
  const wholeFileMark = (text: string) => {
    try {
      loadAll(text);
      return "none";
    } catch (error) {
      const { line, column } = (error as YAMLException).mark;
      return `${line + 1}:${column + 1}`;
    }
  };
  const three = (third: string) => `${esYaml("one")}---\n# the second\n${esYaml("two")}---\n${third}`;

  test("a broken third document is reported with its line in the file, and costs only that document", () => {
    const broken = "apiVersion: app.kubebuilder.io/v1\nkind: EasyService\nmetadata:\n  name: three\n namespace: team\n";
    const folder = folderWith({ "three.yaml": three(broken) });
    assert.equal(wholeFileMark(three(broken)), "22:2", "the line js-yaml gives when it reads the whole file");
    // esYaml is 7 lines: "one" is lines 1-7, `---` 8, the comment 9, "two" 10-16, `---` 17, the broken one from 18.
    assert.deepEqual(names(folder), ["EasyService default/one", "EasyService default/two"]);
    assert.deepEqual(lines([folder]), [`${path.join(folder, "three.yaml")}: document 3: (yaml): bad indentation of a mapping entry at line 22, column 2`]);
  });

  test("a broken first document is reported with its line, and the documents after it are read", () => {
    const text = `# services of team a\napiVersion: app.kubebuilder.io/v1\nkind: EasyService\nmetadata:\n  name: [one\nspec: {}\n---\n${esYaml("two")}---\n${esYaml("three")}`;
    const folder = folderWith({ "first.yaml": text });
    assert.deepEqual(names(folder), ["EasyService default/two", "EasyService default/three"]);
    assert.deepEqual(lines([folder]), [`${path.join(folder, "first.yaml")}: document 1: (yaml): missed comma between flow collection entries at line 6, column 1`]);
    assert.equal(wholeFileMark(text), "6:1");
  });

  test("an unclosed flow collection in a middle document costs only that document", () => {
    const folder = folderWith({ "middle.yaml": `${esYaml("one")}---\nkind: [unclosed\n---\n${esYaml("three")}` });
    assert.deepEqual(names(folder), ["EasyService default/one", "EasyService default/three"]);
    assert.deepEqual(lines([folder]), [`${path.join(folder, "middle.yaml")}: document 2: (yaml): unexpected end of the stream within a flow collection at line 10, column 1`]);
  });

  test("documents are numbered as YAML counts them: a leading `---` starts the first, an empty one counts", () => {
    const text = `# header\n---\n${esYaml("one")}---\n---\nkey: a\nkey: b\n`;
    const folder = folderWith({ "counted.yaml": text, "crlf.yaml": text.replace(/\n/g, "\r\n") });
    for (const file of ["counted.yaml", "crlf.yaml"].map((name) => path.join(folder, name))) {
      assert.deepEqual(lines([file]), [`${file}: document 3: (yaml): duplicated mapping key at line 13, column 1`]);
    }
  });

  test("every broken document of a file is reported", () => {
    const folder = folderWith({ "two-bad.yaml": `a: [1\n---\n${esYaml("ok")}---\nb: {2\n` });
    const file = path.join(folder, "two-bad.yaml");
    assert.deepEqual(names(folder), ["EasyService default/ok"]);
    assert.deepEqual(lines([folder]).map((line) => line.replace(/: [a-z ]+ at line/, ": … at line")), [
      `${file}: document 1: (yaml): … at line 2, column 1`,
      `${file}: document 3: (yaml): … at line 12, column 1`,
    ]);
  });
});

describe("JSON files", () => {
  test("one object, or a List", () => {
    const folder = folderWith({ "one.json": json(ts("one")), "list.json": json({ apiVersion: "v1", kind: "List", items: [es("a"), es("b")] }) });
    assert.deepEqual(names(folder), ["EasyService team/a", "EasyService team/b", "TrackingServer team/one"]);
  });

  test("bad JSON is an error with its line and column", () => {
    const folder = folderWith({ "comma.json": '{\n  "kind": "EasyService"\n  "spec": {}\n}\n', "trailing.json": '{\n  "kind": "EasyService",\n}\n', "empty.json": "" });
    const at = (name: string) => path.join(folder, name);
    assert.deepEqual(lines([folder]), [
      `${at("comma.json")}: document 1: (json): Expected ',' or '}' after property value at line 3, column 3`,
      `${at("empty.json")}: document 1: (json): Unexpected end of JSON input at line 1, column 1`,
      `${at("trailing.json")}: document 1: (json): Expected double-quoted property name at line 3, column 1`,
    ]);
  });

  test("an unexpected token is placed too, and the text around it is not quoted (it may be a key)", () => {
    const folder = folderWith({ "quoted.json": `{\n  "spec": {\n    "aws_secret_key": 'hunter2'\n  }\n}\n` });
    assert.deepEqual(lines([folder]), [`${path.join(folder, "quoted.json")}: document 1: (json): Unexpected token "'" at line 3, column 23`]);
  });
});

describe("validate", () => {
  test("an empty folder is a usage error naming it, with exit 2", () => {
    const empty = path.join(folderWith({ "empty/": "" }), "empty");
    assert.deepEqual(run(["validate", empty]), { code: 2, stdout: "", stderr: `validate: ${empty}: no .yaml, .yml or .json files\n` });
  });

  test("a List file and the examples together", () => {
    const folder = folderWith({ "list.yaml": `apiVersion: v1\nkind: List\nitems:\n- ${JSON.stringify(es("listed"))}\n` });
    const result = run(["validate", EXAMPLES, folder]);
    assert.equal(result.stderr, "");
    assert.equal(result.stdout, `${names(EXAMPLES).length + 1} objects valid\n`);
  });
});

describe("the program's files source", () => {
  async function runProgram(specs: string): Promise<unknown> {
    pulumi.runtime.setAllConfig({ "crdstack:specs": specs, "crdstack:installCrds": "false" });
    registered.length = 0;
    return (require("../../index") as () => Promise<unknown>)();
  }

  test("an empty spec folder fails the run before anything is declared (never: no objects, delete every child)", async () => {
    const empty = path.join(folderWith({ "empty/": "" }), "empty");
    await assert.rejects(runProgram(empty), { message: `${empty}: no .yaml, .yml or .json files` });
    assert.deepEqual(registered, []);
  });

  test("files none of whose documents can be read fail the run before anything is declared, with their errors", async () => {
    const folder = folderWith({ "a.yaml": "kind: [unclosed\n" });
    await assert.rejects(runProgram(folder), {
      message: `crdstack:specs ${folder}: no object could be read, and a run without objects would delete every object's children:\n` +
        `${path.join(folder, "a.yaml")}: document 1: (yaml): unexpected end of the stream within a flow collection at line 2, column 1`,
    });
    assert.deepEqual(registered, []);
  });

  test("one unreadable document among readable ones also fails the run before anything is declared: its objects would lose their children", async () => {
    const folder = folderWith({ "a.yaml": `${JSON.stringify(es("kept"))}\n---\nkind: [unclosed\n` });
    await assert.rejects(runProgram(folder), {
      message: `crdstack:specs ${folder}: a document that cannot be read may hold objects whose children the run would delete:\n` +
        `${path.join(folder, "a.yaml")}: document 2: (yaml): unexpected end of the stream within a flow collection at line 4, column 1`,
    });
    assert.deepEqual(registered, []);
  });
});
