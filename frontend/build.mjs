// Bundles the browser islands into web/static/dist: nothing is loaded from the internet at run time.
import { build } from "esbuild";
import { appendFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const out = "../web/static/dist";
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// bpmnlint resolves its rules from node_modules at run time; the browser gets them packed at build
// time (what bpmnlint-loader does for webpack), imported as "bpmnlint-config".
const compileConfig = require("bpmnlint/lib/support/compile-config");
const lintRules = {
  extends: "bpmnlint:recommended",
  rules: {
    // A task that a reject loop returns to has two incoming flows: an exclusive merge that SpiffWorkflow
    // runs as such; a merge gateway before it would add a step to every item's history for nothing.
    "fake-join": "off",
  },
};
const lintConfig = {
  name: "bpmnlint-config",
  setup(bundler) {
    bundler.onResolve({ filter: /^bpmnlint-config$/ }, () => ({ path: "bpmnlint-config", namespace: "lint" }));
    bundler.onLoad({ filter: /.*/, namespace: "lint" }, async () => ({
      contents: await compileConfig(lintRules),
      resolveDir: process.cwd(),
      loader: "js",
    }));
  },
};

const bundled = await build({
  entryPoints: ["src/viewer.js", "src/modeler.js", "src/dmn-modeler.js", "src/charts.js", "src/pages.js"],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  outdir: out,
  legalComments: "linked",
  logLevel: "info",
  plugins: [lintConfig],
  metafile: true,
});

// esbuild's LEGAL files keep only /*! comments; most packages ship their licence as a file instead.
// Each bundle's LEGAL file lists every package bundled into it with that licence's text.
// The innermost node_modules/<package> folder of a bundled file (nested copies count as their own).
const packageOf = (input) => input.match(/^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/)?.[1];
for (const [file, { inputs }] of Object.entries(bundled.metafile.outputs)) {
  const folders = [...new Set(Object.keys(inputs).map(packageOf).filter(Boolean))].sort();
  if (folders.length === 0) continue;
  const notices = folders.map((dir) => {
    const { name, version, license } = JSON.parse(readFileSync(`${dir}/package.json`, "utf8"));
    const text = readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f));
    return `${name} ${version} (${license})\n${text ? readFileSync(`${dir}/${text}`, "utf8").trim() : ""}`;
  });
  const legal = `${file}.LEGAL.txt`;
  appendFileSync(legal, `${existsSync(legal) ? "\n" : ""}Bundled packages and their licences:\n\n${notices.join("\n\n")}\n`);
}

// Stylesheets and the BPMN icon font (as files: the CSP allows no data: fonts), copied as shipped.
const assets = "node_modules/bpmn-js/dist/assets";
for (const file of ["bpmn-js.css", "diagram-js.css", "bpmn-font/css/bpmn.css"]) {
  cpSync(`${assets}/${file}`, `${out}/bpmn-js/${file}`);
}
cpSync(`${assets}/bpmn-font/font`, `${out}/bpmn-js/bpmn-font/font`, { recursive: true });
cpSync("node_modules/@bpmn-io/properties-panel/dist/assets/properties-panel.css", `${out}/properties-panel.css`);
cpSync("node_modules/bpmn-js-bpmnlint/dist/assets/css/bpmn-js-bpmnlint.css", `${out}/bpmn-js-bpmnlint.css`);
// The decision table editor's (dmn-modeler.js: no DRD view, so neither diagram-js.css nor dmn-js-drd.css).
const dmnAssets = "node_modules/dmn-js/dist/assets";
for (const file of ["dmn-js-shared.css", "dmn-js-decision-table.css", "dmn-js-decision-table-controls.css", "dmn-font/css/dmn.css"]) {
  cpSync(`${dmnAssets}/${file}`, `${out}/dmn-js/${file}`);
}
cpSync(`${dmnAssets}/dmn-font/font`, `${out}/dmn-js/dmn-font/font`, { recursive: true });
