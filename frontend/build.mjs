// Bundles the browser islands into web/static/dist: nothing is loaded from the internet at run time.
import { build } from "esbuild";
import { cpSync, mkdirSync, rmSync } from "node:fs";

const out = "../web/static/dist";
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  entryPoints: ["src/viewer.js", "src/modeler.js", "src/charts.js", "src/pages.js"],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  outdir: out,
  legalComments: "linked",
  logLevel: "info",
});

// Stylesheets and the BPMN icon font (as files: the CSP allows no data: fonts), copied as shipped.
const assets = "node_modules/bpmn-js/dist/assets";
for (const file of ["bpmn-js.css", "diagram-js.css", "bpmn-font/css/bpmn.css"]) {
  cpSync(`${assets}/${file}`, `${out}/bpmn-js/${file}`);
}
cpSync(`${assets}/bpmn-font/font`, `${out}/bpmn-js/bpmn-font/font`, { recursive: true });
cpSync("node_modules/@bpmn-io/properties-panel/dist/assets/properties-panel.css", `${out}/properties-panel.css`);
