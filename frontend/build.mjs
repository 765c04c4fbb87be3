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

// Stylesheets and the BPMN icon font, copied as the packages ship them.
cpSync("node_modules/bpmn-js/dist/assets", `${out}/bpmn-js`, { recursive: true });
cpSync("node_modules/@bpmn-io/properties-panel/dist/assets/properties-panel.css", `${out}/properties-panel.css`);
