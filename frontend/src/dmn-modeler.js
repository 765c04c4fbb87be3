// The decision table designer: dmn-js's table editor (Python cells, in the page's language), 试算 on the
// draft being edited, deploy as a new version with the engine's refusals shown on the elements they name,
// download. Page-side endpoints with the session's CSRF token, as the BPMN modeler (modeler.js).
import { answerOf } from "./decisions/answer.js";
import { Marks } from "./decisions/marks.js";
import { DecisionTableModeler, tableOptions } from "./decisions/table.js";
import { Trial } from "./decisions/trial.js";
import zh from "./decisions/zh.js";
import { translateModule } from "./translate.js";

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

async function setup(root) {
  const status = root.querySelector("[data-status]");
  const texts = JSON.parse(root.dataset.texts);
  const say = (text, kind) => {
    status.textContent = text;
    status.dataset.kind = kind;
  };
  const container = root.querySelector("[data-table]");
  const chinese = document.documentElement.lang.startsWith("zh");
  const modeler = new DecisionTableModeler(tableOptions(container, [translateModule(chinese ? zh : {})]));
  const marks = new Marks(container);
  const draft = async () => (await modeler.saveXML({ format: true })).xml;
  const trial = new Trial(root.querySelector("[data-trial]"), {
    url: root.dataset.evaluateUrl,
    csrf,
    texts,
    draft,
    marks,
  });
  let dirty = false;
  const table = () => modeler.getActiveViewer().get("sheet").getRoot().businessObject;

  await modeler.importXML(root.dataset.xml, { open: false });
  const view = modeler.getViews().find(({ element }) => element.id === root.dataset.key);
  if (!view) {
    say(texts.noTable, "error");
    return;
  }
  await modeler.open(view);
  const viewer = modeler.getActiveViewer();
  trial.show(table());
  viewer.on("elements.changed", () => {
    dirty = true;
    marks.matched([]); // a trial's rules are those of the table before this edit
    trial.show(table());
  });
  window.addEventListener("beforeunload", (event) => {
    if (!dirty) return;
    event.preventDefault();
    event.returnValue = ""; // Chromium still asks for it
  });

  root.querySelector("[data-deploy]").addEventListener("click", async () => {
    marks.clearProblems();
    const response = await fetch(root.dataset.deployUrl, {
      method: "POST",
      body: await draft(),
      credentials: "same-origin",
      headers: { "Content-Type": "application/xml", "X-CSRFToken": csrf() },
    });
    const result = await answerOf(response);
    if (response.ok) {
      dirty = false;
      say(result.message, "ok");
      window.location.assign(result.location);
      return;
    }
    (result.errors || []).forEach(({ element }) => element && marks.problem(element));
    say(result.detail, "error"); // one problem, or the list of them, each naming its element
  });
  root.querySelector("[data-download]").addEventListener("click", async () => {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([await draft()], { type: "application/xml" }));
    link.download = root.dataset.filename;
    link.click();
    URL.revokeObjectURL(link.href);
  });
  root.dataset.ready = "true";
}

document.querySelectorAll("[data-dmn-modeler]").forEach((root) =>
  setup(root).catch((error) => {
    const status = root.querySelector("[data-status]");
    status.textContent = String(error);
    status.dataset.kind = "error";
  }),
);
